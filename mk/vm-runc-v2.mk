# cgroup v2 alone (issue 22): a QEMU guest booted with cgroup_no_v1=all, where Debian's runc
# attaches its own device program to each container beside the agent's, and both must hold
# (tests/vm/runc-v2.sh; tests/vm/README.md).
#   make vm-runc-v2-check                       one amd64 6.12 boot
.PHONY: vm-runc-v2-check
vm-runc-v2-check: $(VM_AGENT)
	$(call msg,VM,runc and agent device programs in a cgroup v2 guest)
	$(call stage,vm-runc-v2-check) env BUILD=$(BUILD) tests/vm/runc-v2.sh --agent $(VM_AGENT)
# a stage of make check (46-91 s under TCG on the loaded 2-core machine); not under the sanitizers,
# as the other guest stages (mk/sanitize.mk)
CHECK_STAGES += vm-runc-v2-check
ifeq ($(SANITIZE),1)
CHECK_SKIP += vm-runc-v2-check
endif
