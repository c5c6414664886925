# user/sources/: where the agent learns who is a tenant and what is an accelerator: the YAML
# configuration, cgroup v2 (mount, ids, paths, the host's namespace), the device classes
# (/proc/devices), and source.h, the interface of an allocation source (the configuration's is in
# user/policy/, the Kubernetes one is user/k8s/).
USER_SRCS += $(wildcard user/sources/*.c)
