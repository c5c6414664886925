# user/lib/: what every other folder may use and that knows nothing of the agent: the logger, file
# and number helpers, the JSON writer (the event stream), the hash table, the names of the ABI's
# enums and of known ioctl commands, cgroup path patterns, the YAML nesting limit.
USER_SRCS += $(wildcard user/lib/*.c)
