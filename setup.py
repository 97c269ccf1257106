import setuptools

setuptools.setup(
    setup_requires=['pbr>=5.11'],
    pbr=True)
