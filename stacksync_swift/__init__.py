"""stacksync-swift: a personal cloud inside an OpenStack Swift proxy."""
