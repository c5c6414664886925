// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * NVIDIA: the driver decodes frontend and RM commands by _IOC_NR only
 * (open-gpu-kernel-modules src/nvidia/arch/nvalloc/unix/include/nv_escape.h and nv-ioctl-numbers.h);
 * UVM commands are plain numbers matched whole (kernel-open/nvidia-uvm/uvm_linux_ioctl.h,
 * uvm_ioctl.h).
 */
#include <string.h>
#include "ioctl_names.h"
#include "util.h"

struct name {
	__u32 v;
	const char *n;
};

static const struct name nv_nr[] = {
	{ 0x27, "RM_ALLOC_MEMORY" },
	{ 0x28, "RM_ALLOC_OBJECT" },
	{ 0x29, "RM_FREE" },
	{ 0x2A, "RM_CONTROL" },
	{ 0x2B, "RM_ALLOC" },
	{ 0x32, "RM_CONFIG_GET" },
	{ 0x33, "RM_CONFIG_SET" },
	{ 0x34, "RM_DUP_OBJECT" },
	{ 0x35, "RM_SHARE" },
	{ 0x37, "RM_CONFIG_GET_EX" },
	{ 0x38, "RM_CONFIG_SET_EX" },
	{ 0x39, "RM_I2C_ACCESS" },
	{ 0x41, "RM_IDLE_CHANNELS" },
	{ 0x4A, "RM_VID_HEAP_CONTROL" },
	{ 0x4D, "RM_ACCESS_REGISTRY" },
	{ 0x4E, "RM_MAP_MEMORY" },
	{ 0x4F, "RM_UNMAP_MEMORY" },
	{ 0x52, "RM_GET_EVENT_DATA" },
	{ 0x54, "RM_ALLOC_CONTEXT_DMA2" },
	{ 0x56, "RM_ADD_VBLANK_CALLBACK" },
	{ 0x57, "RM_MAP_MEMORY_DMA" },
	{ 0x58, "RM_UNMAP_MEMORY_DMA" },
	{ 0x59, "RM_BIND_CONTEXT_DMA" },
	{ 0x5C, "RM_EXPORT_OBJECT_TO_FD" },
	{ 0x5D, "RM_IMPORT_OBJECT_FROM_FD" },
	{ 0x5E, "RM_UPDATE_DEVICE_MAPPING_INFO" },
	{ 200, "CARD_INFO" },
	{ 201, "REGISTER_FD" },
	{ 206, "ALLOC_OS_EVENT" },
	{ 207, "FREE_OS_EVENT" },
	{ 209, "STATUS_CODE" },
	{ 210, "CHECK_VERSION_STR" },
	{ 211, "IOCTL_XFER_CMD" },
	{ 212, "ATTACH_GPUS_TO_FD" },
	{ 213, "QUERY_DEVICE_INTR" },
	{ 214, "SYS_PARAMS" },
	{ 215, "NUMA_INFO" },
	{ 216, "SET_NUMA_STATUS" },
	{ 217, "EXPORT_TO_DMABUF_FD" },
	{ 218, "WAIT_OPEN_COMPLETE" },
};

static const struct name uvm[] = {
	{ 0x30000001, "UVM_INITIALIZE" },
	{ 0x30000002, "UVM_DEINITIALIZE" },
	{ 1, "UVM_RESERVE_VA" },
	{ 23, "UVM_CREATE_RANGE_GROUP" },
	{ 25, "UVM_REGISTER_GPU_VASPACE" },
	{ 27, "UVM_REGISTER_CHANNEL" },
	{ 33, "UVM_MAP_EXTERNAL_ALLOCATION" },
	{ 34, "UVM_FREE" },
	{ 37, "UVM_REGISTER_GPU" },
	{ 39, "UVM_PAGEABLE_MEM_ACCESS" },
	{ 75, "UVM_MM_INITIALIZE" },
};

/* include/uapi/linux/kfd_ioctl.h: AMDKFD_IOCTL_BASE 'K', by nr */
static const struct name kfd_nr[] = {
	{ 0x01, "AMDKFD_IOC_GET_VERSION" },
	{ 0x02, "AMDKFD_IOC_CREATE_QUEUE" },
	{ 0x03, "AMDKFD_IOC_DESTROY_QUEUE" },
	{ 0x04, "AMDKFD_IOC_SET_MEMORY_POLICY" },
	{ 0x05, "AMDKFD_IOC_GET_CLOCK_COUNTERS" },
	{ 0x06, "AMDKFD_IOC_GET_PROCESS_APERTURES" },
	{ 0x07, "AMDKFD_IOC_UPDATE_QUEUE" },
	{ 0x08, "AMDKFD_IOC_CREATE_EVENT" },
	{ 0x09, "AMDKFD_IOC_DESTROY_EVENT" },
	{ 0x0A, "AMDKFD_IOC_SET_EVENT" },
	{ 0x0B, "AMDKFD_IOC_RESET_EVENT" },
	{ 0x0C, "AMDKFD_IOC_WAIT_EVENTS" },
	{ 0x16, "AMDKFD_IOC_ALLOC_MEMORY_OF_GPU" },
	{ 0x17, "AMDKFD_IOC_FREE_MEMORY_OF_GPU" },
	{ 0x18, "AMDKFD_IOC_MAP_MEMORY_TO_GPU" },
	{ 0x19, "AMDKFD_IOC_UNMAP_MEMORY_FROM_GPU" },
	{ 0x1E, "AMDKFD_IOC_ACQUIRE_VM" },
};

static const char *find(const struct name *t, size_t n, __u32 v)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].v == v)
			return t[i].n;
	return NULL;
}

const char *ag_ioctl_name(const char *class_name, __u32 cmd, __u32 xfer_cmd)
{
	if (!class_name)
		return NULL;
	if (!strcmp(class_name, "nvidia-uvm") || !strcmp(class_name, "nvidia-uvm-tools"))
		return find(uvm, ARRAY_SIZE(uvm), cmd);
	if (!strncmp(class_name, "nvidia", 6) && ((cmd >> 8) & 0xff) == 'F') {
		if (xfer_cmd)
			return find(nv_nr, ARRAY_SIZE(nv_nr), xfer_cmd & 0xff);
		return find(nv_nr, ARRAY_SIZE(nv_nr), cmd & 0xff);
	}
	if (!strcmp(class_name, "kfd") && ((cmd >> 8) & 0xff) == 'K')
		return find(kfd_nr, ARRAY_SIZE(kfd_nr), cmd & 0xff);
	return NULL;
}
