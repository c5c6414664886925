# user/policy/: every cgroup the agent knows, what the allocation sources say of it, the
# configuration's own source, and the kernel's policy and owners maps kept in step with that.
USER_SRCS += $(wildcard user/policy/*.c)
