# The journal sink and `accelguard journal` (user/journal.c); its stage: tests/journal/.
USER_SRCS += user/journal.c
