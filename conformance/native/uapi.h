/*
 * The uAPI numbers and structures the conformance helper needs, defined here because the machine's
 * /usr/include/linux headers are older than the running kernel (Linux 6.18).
 *
 * Checked against the kernel's uAPI headers: include/uapi/linux/kvm.h (torvalds/linux; KVM_SET_USER_MEMORY_REGION2
 * and struct kvm_userspace_memory_region2 from "KVM: Introduce KVM_SET_USER_MEMORY_REGION2",
 * KVM_CREATE_GUEST_MEMFD / struct kvm_create_guest_memfd from commit a7800aa80ea4, GUEST_MEMFD_FLAG_MMAP and
 * GUEST_MEMFD_FLAG_INIT_SHARED from 3d3a04fad25a and fe2bf6234e94, KVM_EXIT_MEMORY_FAULT / kvm_run.memory_fault from
 * 16f95f3b95ca), arch/x86/include/uapi/asm/kvm.h (kvm_regs, kvm_segment, kvm_sregs, kvm_cpuid2), and
 * include/uapi/linux/userfaultfd.h (every UFFDIO_* structure, mode and feature bit). The static assertions below pin
 * every size and offset the kernel reads, and the ioctl numbers to the values computed from the _IOC encoding.
 */
#ifndef FAULTLINE_UAPI_H
#define FAULTLINE_UAPI_H

#include <stddef.h>
#include <stdint.h>
#include <linux/ioctl.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t s64;

/* ---- KVM (include/uapi/linux/kvm.h, arch/x86/include/uapi/asm/kvm.h) ---- */
#define FL_KVMIO 0xAE

struct fl_region {            /* struct kvm_userspace_memory_region */
  u32 slot;
  u32 flags;
  u64 guest_phys_addr;
  u64 memory_size;
  u64 userspace_addr;
};
struct fl_region2 {           /* struct kvm_userspace_memory_region2 */
  u32 slot;
  u32 flags;
  u64 guest_phys_addr;
  u64 memory_size;
  u64 userspace_addr;
  u64 guest_memfd_offset;
  u32 guest_memfd;
  u32 pad1;
  u64 pad2[14];
};
struct fl_create_gmem {       /* struct kvm_create_guest_memfd */
  u64 size;
  u64 flags;
  u64 reserved[6];
};
struct fl_mem_attrs {         /* struct kvm_memory_attributes */
  u64 address;
  u64 size;
  u64 attributes;
  u64 flags;
};
struct fl_mem_attrs2 {        /* struct kvm_memory_attributes2, guest_memfd in-place conversion v7 (proposal) */
  u64 offset;
  u64 size;
  u64 attributes;
  u64 flags;
  u64 error_offset;
  u64 reserved[11];
};
struct fl_regs {              /* struct kvm_regs (x86) */
  u64 rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
  u64 r8, r9, r10, r11, r12, r13, r14, r15;
  u64 rip, rflags;
};
struct fl_segment {           /* struct kvm_segment */
  u64 base;
  u32 limit;
  u16 selector;
  u8 type, present, dpl, db, s, l, g, avl;
  u8 unusable, padding;
};
struct fl_dtable {            /* struct kvm_dtable */
  u64 base;
  u16 limit;
  u16 padding[3];
};
struct fl_sregs {             /* struct kvm_sregs */
  struct fl_segment cs, ds, es, fs, gs, ss, tr, ldt;
  struct fl_dtable gdt, idt;
  u64 cr0, cr2, cr3, cr4, cr8, efer, apic_base;
  u64 interrupt_bitmap[4];
};
struct fl_cpuid_entry {       /* struct kvm_cpuid_entry2 */
  u32 function, index, flags, eax, ebx, ecx, edx, padding[3];
};
struct fl_cpuid {             /* struct kvm_cpuid2 */
  u32 nent;
  u32 padding;
  struct fl_cpuid_entry entries[];
};
struct fl_run {               /* the head of struct kvm_run and the exits the helper reads */
  u8 request_interrupt_window;
  u8 immediate_exit;
  u8 padding1[6];
  u32 exit_reason;
  u8 ready_for_interrupt_injection;
  u8 if_flag;
  u16 flags;
  u64 cr8;
  u64 apic_base;
  union {
    struct { u8 direction, size; u16 port; u32 count; u64 data_offset; } io;
    struct { u64 phys_addr; u8 data[8]; u32 len; u8 is_write; } mmio;
    struct { u64 flags, gpa, size; } memory_fault;
    struct { u32 suberror, ndata; u64 data[16]; } internal;
    struct { u64 hardware_entry_failure_reason; u32 cpu; } fail_entry;
    char padding[256];
  } u;
};

_Static_assert(sizeof(struct fl_region) == 32, "kvm_userspace_memory_region");
_Static_assert(sizeof(struct fl_region2) == 160, "kvm_userspace_memory_region2");
_Static_assert(offsetof(struct fl_region2, guest_memfd_offset) == 32, "region2.guest_memfd_offset");
_Static_assert(offsetof(struct fl_region2, guest_memfd) == 40, "region2.guest_memfd");
_Static_assert(sizeof(struct fl_create_gmem) == 64, "kvm_create_guest_memfd");
_Static_assert(sizeof(struct fl_mem_attrs) == 32, "kvm_memory_attributes");
_Static_assert(sizeof(struct fl_mem_attrs2) == 128, "kvm_memory_attributes2");
_Static_assert(sizeof(struct fl_regs) == 144, "kvm_regs");
_Static_assert(sizeof(struct fl_segment) == 24, "kvm_segment");
_Static_assert(sizeof(struct fl_sregs) == 312, "kvm_sregs");
_Static_assert(sizeof(struct fl_cpuid_entry) == 40, "kvm_cpuid_entry2");
_Static_assert(offsetof(struct fl_run, exit_reason) == 8, "kvm_run.exit_reason");
_Static_assert(offsetof(struct fl_run, u) == 32, "kvm_run union");

/* Dirty logging: struct kvm_enable_cap, kvm_dirty_log and kvm_clear_dirty_log (the bitmap pointer's union is a u64). */
struct fl_enable_cap {
  u32 cap;
  u32 flags;
  u64 args[4];
  u8 pad[64];
};
struct fl_dirty_log {
  u32 slot;
  u32 padding1;
  u64 dirty_bitmap;
};
struct fl_clear_dirty_log {
  u32 slot;
  u32 num_pages;
  u64 first_page;
  u64 dirty_bitmap;
};
_Static_assert(sizeof(struct fl_enable_cap) == 104, "kvm_enable_cap");
_Static_assert(sizeof(struct fl_dirty_log) == 16, "kvm_dirty_log");
_Static_assert(sizeof(struct fl_clear_dirty_log) == 24, "kvm_clear_dirty_log");
_Static_assert(offsetof(struct fl_clear_dirty_log, first_page) == 8, "kvm_clear_dirty_log.first_page");

#define FL_KVM_GET_API_VERSION _IO(FL_KVMIO, 0x00)
#define FL_KVM_CREATE_VM _IO(FL_KVMIO, 0x01)
#define FL_KVM_CHECK_EXTENSION _IO(FL_KVMIO, 0x03)
#define FL_KVM_GET_VCPU_MMAP_SIZE _IO(FL_KVMIO, 0x04)
#define FL_KVM_GET_SUPPORTED_CPUID _IOWR(FL_KVMIO, 0x05, struct fl_cpuid)
#define FL_KVM_CREATE_VCPU _IO(FL_KVMIO, 0x41)
#define FL_KVM_GET_DIRTY_LOG _IOW(FL_KVMIO, 0x42, struct fl_dirty_log)
#define FL_KVM_SET_USER_MEMORY_REGION _IOW(FL_KVMIO, 0x46, struct fl_region)
#define FL_KVM_SET_USER_MEMORY_REGION2 _IOW(FL_KVMIO, 0x49, struct fl_region2)
#define FL_KVM_RUN _IO(FL_KVMIO, 0x80)
#define FL_KVM_GET_REGS _IOR(FL_KVMIO, 0x81, struct fl_regs)
#define FL_KVM_SET_REGS _IOW(FL_KVMIO, 0x82, struct fl_regs)
#define FL_KVM_GET_SREGS _IOR(FL_KVMIO, 0x83, struct fl_sregs)
#define FL_KVM_SET_SREGS _IOW(FL_KVMIO, 0x84, struct fl_sregs)
#define FL_KVM_SET_CPUID2 _IOW(FL_KVMIO, 0x90, struct fl_cpuid)
#define FL_KVM_ENABLE_CAP _IOW(FL_KVMIO, 0xa3, struct fl_enable_cap)
#define FL_KVM_CLEAR_DIRTY_LOG _IOWR(FL_KVMIO, 0xc0, struct fl_clear_dirty_log)
#define FL_KVM_SET_MEMORY_ATTRIBUTES _IOW(FL_KVMIO, 0xd2, struct fl_mem_attrs)
#define FL_KVM_CREATE_GUEST_MEMFD _IOWR(FL_KVMIO, 0xd4, struct fl_create_gmem)
#define FL_KVM_SET_MEMORY_ATTRIBUTES2 _IOWR(FL_KVMIO, 0xd2, struct fl_mem_attrs2) /* on a guest_memfd: v7 09/42 */

_Static_assert(FL_KVM_SET_USER_MEMORY_REGION2 == 0x40a0ae49, "KVM_SET_USER_MEMORY_REGION2");
_Static_assert(FL_KVM_CREATE_GUEST_MEMFD == 0xc040aed4, "KVM_CREATE_GUEST_MEMFD");
_Static_assert(FL_KVM_SET_MEMORY_ATTRIBUTES == 0x4020aed2, "KVM_SET_MEMORY_ATTRIBUTES");
_Static_assert(FL_KVM_GET_DIRTY_LOG == 0x4010ae42, "KVM_GET_DIRTY_LOG");
_Static_assert(FL_KVM_ENABLE_CAP == 0x4068aea3, "KVM_ENABLE_CAP");
_Static_assert(FL_KVM_CLEAR_DIRTY_LOG == 0xc018aec0, "KVM_CLEAR_DIRTY_LOG");

#define FL_KVM_MEM_LOG_DIRTY_PAGES (1u << 0)
#define FL_KVM_MEM_READONLY (1u << 1)
#define FL_KVM_MEM_GUEST_MEMFD (1u << 2)
#define FL_KVM_MEM_USERFAULT (1u << 3) /* KVM Userfault v3 (not merged): the kernel refuses it */
#define FL_GUEST_MEMFD_FLAG_MMAP (1ull << 0)
#define FL_GUEST_MEMFD_FLAG_INIT_SHARED (1ull << 1)
#define FL_KVM_MEMORY_ATTRIBUTE_PRIVATE (1ull << 3)
#define FL_KVM_MEMORY_EXIT_FLAG_PRIVATE (1ull << 3)
#define FL_KVM_MEMORY_EXIT_FLAG_USERFAULT (1ull << 4) /* proposal only */

#define FL_KVM_EXIT_IO 2
#define FL_KVM_EXIT_HLT 5
#define FL_KVM_EXIT_MMIO 6
#define FL_KVM_EXIT_SHUTDOWN 8
#define FL_KVM_EXIT_FAIL_ENTRY 9
#define FL_KVM_EXIT_INTR 10
#define FL_KVM_EXIT_INTERNAL_ERROR 17
#define FL_KVM_EXIT_MEMORY_FAULT 39

/* KVM_CAP_* numbers. USERFAULT (243) and GUEST_MEMFD_MEMORY_ATTRIBUTES (249) are proposals: their numbers mean
 * something else (or nothing) upstream, so the runner treats those two as model-only. */
#define FL_CAP_USER_MEMORY 3
#define FL_CAP_NR_MEMSLOTS 10
#define FL_CAP_READONLY_MEM 81
#define FL_CAP_MULTI_ADDRESS_SPACE 118
#define FL_CAP_MANUAL_DIRTY_LOG_PROTECT2 168
#define FL_CAP_USER_MEMORY2 231
#define FL_CAP_MEMORY_FAULT_INFO 232
#define FL_CAP_MEMORY_ATTRIBUTES 233
#define FL_CAP_GUEST_MEMFD 234
#define FL_CAP_VM_TYPES 235
#define FL_CAP_USERFAULT 243
#define FL_CAP_GUEST_MEMFD_FLAGS 244
#define FL_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES 249

/* ---- userfaultfd (include/uapi/linux/userfaultfd.h) ---- */
#define FL_UFFD_API 0xAAull
#define FL_UFFDIO 0xAA
#define FL_UFFD_USER_MODE_ONLY 1

struct fl_uffdio_api { u64 api, features, ioctls; };
struct fl_uffdio_range { u64 start, len; };
struct fl_uffdio_register { struct fl_uffdio_range range; u64 mode, ioctls; };
struct fl_uffdio_copy { u64 dst, src, len, mode; s64 copy; };
struct fl_uffdio_zeropage { struct fl_uffdio_range range; u64 mode; s64 zeropage; };
struct fl_uffdio_writeprotect { struct fl_uffdio_range range; u64 mode; };
struct fl_uffdio_continue { struct fl_uffdio_range range; u64 mode; s64 mapped; };
struct fl_uffdio_poison { struct fl_uffdio_range range; u64 mode; s64 updated; };
struct fl_uffdio_move { u64 dst, src, len, mode; s64 move; };
struct fl_uffd_msg {          /* struct uffd_msg, __packed, 32 bytes */
  u8 event;
  u8 reserved1;
  u16 reserved2;
  u32 reserved3;
  union {
    struct { u64 flags, address; u32 ptid; } __attribute__((packed)) pagefault;
    struct { u64 reserved1, reserved2, reserved3; } reserved;
  } __attribute__((packed)) arg;
} __attribute__((packed));

_Static_assert(sizeof(struct fl_uffdio_api) == 24, "uffdio_api");
_Static_assert(sizeof(struct fl_uffdio_register) == 32, "uffdio_register");
_Static_assert(sizeof(struct fl_uffdio_copy) == 40, "uffdio_copy");
_Static_assert(sizeof(struct fl_uffdio_zeropage) == 32, "uffdio_zeropage");
_Static_assert(sizeof(struct fl_uffdio_writeprotect) == 24, "uffdio_writeprotect");
_Static_assert(sizeof(struct fl_uffdio_continue) == 32, "uffdio_continue");
_Static_assert(sizeof(struct fl_uffdio_poison) == 32, "uffdio_poison");
_Static_assert(sizeof(struct fl_uffdio_move) == 40, "uffdio_move");
_Static_assert(offsetof(struct fl_uffdio_move, move) == 32, "uffdio_move.move");
_Static_assert(sizeof(struct fl_uffd_msg) == 32, "uffd_msg");

#define FL_UFFDIO_REGISTER _IOWR(FL_UFFDIO, 0x00, struct fl_uffdio_register)
#define FL_UFFDIO_UNREGISTER _IOR(FL_UFFDIO, 0x01, struct fl_uffdio_range)
#define FL_UFFDIO_WAKE _IOR(FL_UFFDIO, 0x02, struct fl_uffdio_range)
#define FL_UFFDIO_COPY _IOWR(FL_UFFDIO, 0x03, struct fl_uffdio_copy)
#define FL_UFFDIO_ZEROPAGE _IOWR(FL_UFFDIO, 0x04, struct fl_uffdio_zeropage)
#define FL_UFFDIO_MOVE _IOWR(FL_UFFDIO, 0x05, struct fl_uffdio_move)
#define FL_UFFDIO_WRITEPROTECT _IOWR(FL_UFFDIO, 0x06, struct fl_uffdio_writeprotect)
#define FL_UFFDIO_CONTINUE _IOWR(FL_UFFDIO, 0x07, struct fl_uffdio_continue)
#define FL_UFFDIO_POISON _IOWR(FL_UFFDIO, 0x08, struct fl_uffdio_poison)
#define FL_UFFDIO_API _IOWR(FL_UFFDIO, 0x3F, struct fl_uffdio_api)
#define FL_USERFAULTFD_IOC_NEW _IO(FL_UFFDIO, 0x00) /* on /dev/userfaultfd */

_Static_assert(FL_UFFDIO_API == 0xC018AA3F, "UFFDIO_API");
_Static_assert(FL_UFFDIO_REGISTER == 0xC020AA00, "UFFDIO_REGISTER");
_Static_assert(FL_UFFDIO_UNREGISTER == 0x8010AA01, "UFFDIO_UNREGISTER");
_Static_assert(FL_UFFDIO_WAKE == 0x8010AA02, "UFFDIO_WAKE");
_Static_assert(FL_UFFDIO_COPY == 0xC028AA03, "UFFDIO_COPY");
_Static_assert(FL_UFFDIO_ZEROPAGE == 0xC020AA04, "UFFDIO_ZEROPAGE");
_Static_assert(FL_UFFDIO_MOVE == 0xC028AA05, "UFFDIO_MOVE");
_Static_assert(FL_UFFDIO_WRITEPROTECT == 0xC018AA06, "UFFDIO_WRITEPROTECT");
_Static_assert(FL_UFFDIO_CONTINUE == 0xC020AA07, "UFFDIO_CONTINUE");
_Static_assert(FL_UFFDIO_POISON == 0xC020AA08, "UFFDIO_POISON");

#define FL_UFFDIO_REGISTER_MODE_MISSING (1ull << 0)
#define FL_UFFDIO_REGISTER_MODE_WP (1ull << 1)
#define FL_UFFDIO_REGISTER_MODE_MINOR (1ull << 2)
#define FL_UFFDIO_COPY_MODE_DONTWAKE (1ull << 0)
#define FL_UFFDIO_COPY_MODE_WP (1ull << 1)
#define FL_UFFDIO_ZEROPAGE_MODE_DONTWAKE (1ull << 0)
#define FL_UFFDIO_CONTINUE_MODE_DONTWAKE (1ull << 0)
#define FL_UFFDIO_CONTINUE_MODE_WP (1ull << 1)
#define FL_UFFDIO_POISON_MODE_DONTWAKE (1ull << 0)
#define FL_UFFDIO_WRITEPROTECT_MODE_WP (1ull << 0)
#define FL_UFFDIO_WRITEPROTECT_MODE_DONTWAKE (1ull << 1)
#define FL_UFFDIO_MOVE_MODE_DONTWAKE (1ull << 0)
#define FL_UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES (1ull << 1)
#define FL_UFFD_EVENT_PAGEFAULT 0x12
#define FL_UFFD_PAGEFAULT_FLAG_WRITE (1ull << 0)
#define FL_UFFD_PAGEFAULT_FLAG_WP (1ull << 1)
#define FL_UFFD_PAGEFAULT_FLAG_MINOR (1ull << 2)
#define FL_UFFD_FEATURE_THREAD_ID (1ull << 8) /* uffdio_api.features: fill uffd_msg.arg.pagefault.feat.ptid */

/* ---- memfd / mmap / fallocate numbers newer than some libc headers ---- */
#define FL_MFD_CLOEXEC 0x0001u
#define FL_MFD_HUGETLB 0x0004u
#define FL_MFD_HUGE_SHIFT 26
#define FL_MFD_HUGE_2MB (21u << FL_MFD_HUGE_SHIFT)
#define FL_MFD_HUGE_1GB (30u << FL_MFD_HUGE_SHIFT)
#define FL_MAP_FIXED_NOREPLACE 0x100000
/* include/uapi/linux/falloc.h; the helper takes the mode word from the scenario (docs/VOCABULARY.md) */
#define FL_FALLOC_FL_KEEP_SIZE 0x01
#define FL_FALLOC_FL_PUNCH_HOLE 0x02
#define FL_FALLOC_FL_NO_HIDE_STALE 0x04
#define FL_FALLOC_FL_COLLAPSE_RANGE 0x08
#define FL_FALLOC_FL_ZERO_RANGE 0x10
#define FL_FALLOC_FL_INSERT_RANGE 0x20
#define FL_FALLOC_FL_UNSHARE_RANGE 0x40
#define FL_FALLOC_FL_WRITE_ZEROES 0x80 /* 6.17 */
#define FL_MADV_DONTNEED 4
#define FL_MADV_REMOVE 9

#endif
