# The VFIO guest scenario (issue 22: a Kata-style VMM opening /dev/vfio/N): tests/vm/vfio.sh,
# tests/vm/README.md ("A GPU bound to vfio-pci").
#   make vm-vfio-check                                   6.12, tiers 1, 2 and 3 (3 boots)
#   make vm-vfio-check VM_VFIO_FLAGS='--tiers lsm'       one boot
# A stage of `make check` where amd64 guests run (VM_ARCHES holds amd64): three short boots, one
# scenario each (45-77 s for the three, one at a time, under TCG on the 2-core development machine);
# left out under SANITIZE=1 as the other guest stages are.

VM_VFIO_FLAGS ?=
CHECK_STAGES += $(if $(filter amd64,$(VM_ARCHES)),vm-vfio-check)
ifeq ($(SANITIZE),1)
CHECK_SKIP += vm-vfio-check
endif

.PHONY: vm-vfio-check
vm-vfio-check: $(VM_AGENT) $(VM_ITEST)
	$(call msg,VM,$(VM_AGENT) judging a GPU's VFIO group in QEMU guests (q35, emulated IOMMU))
	$(call stage,vm-vfio-check) env BUILD=$(BUILD) tests/vm/vfio.sh --agent $(VM_AGENT) --itest $(VM_ITEST) $(VM_VFIO_FLAGS)
