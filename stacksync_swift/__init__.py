"""stacksync-swift: a personal cloud inside an OpenStack Swift proxy."""

import warnings

# dnspython, which eventlet imports, touches cryptography's DSA names; from
# cryptography 48 on that prints a deprecation warning at the start of every
# command and server that imports Swift. It is not ours to act on, and it
# lands in the middle of our commands' output.
warnings.filterwarnings('ignore', message='DSA is deprecated',
                        module=r'dns\.')
