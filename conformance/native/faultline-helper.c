/*
 * faultline-helper: runs the operation vocabulary of DESIGN.md section 1 through real syscalls and ioctls.
 *
 * Protocol: one JSON operation per line on stdin, one JSON outcome per line on stdout, in the outcome shapes of
 * schema/outcome.ts. Besides the vocabulary it understands four control lines from the runner:
 *   {"op":"__hello","vcpus":N}   vCPUs created with each VM (config.vcpus)
 *   {"op":"__probe"}             feature detection: KVM caps, VM types, UFFDIO_API features, guest check
 *   {"op":"__reset"}             close and unmap everything (between random sequences)
 *   {"op":"__race",...}          run a concurrent scenario's actors on threads of their own, timed (op_race)
 * An operation the running kernel cannot express is answered {"unsupported":"reason"}; a failure of the harness
 * itself is {"helper_error":"reason"}. Neither is ever an outcome of the vocabulary.
 *
 * Conventions (docs/VOCABULARY.md): map mN lives at 2^41 + N * 2^40 (MAP_FIXED_NOREPLACE); unknown names are passed
 * to the kernel as fd -1 (EBADF); re-creating a name leaves the old fd open and unnamed.
 *
 * Guest accesses (vcpu_access) run a tiny 64-bit guest kept in an internal memslot (slot FL_GUEST_SLOT at gpa
 * FL_GUEST_GPA, see docs/CONFORMANCE.md): its page tables map a fixed window to the target gpa, and the guest does one
 * load or store there, then reports through port I/O.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "uapi.h"

#define PAGE 4096ull
#define MAP_BASE (1ull << 41)
#define MAP_STRIDE (1ull << 40)
#define MAX_MAPS 64
#define MAX_OBJS 4096
#define MAX_VCPUS 64

/* The helper's own memslot for guest code and page tables (documented in docs/CONFORMANCE.md). */
#define FL_GUEST_SLOT 32700u
#define FL_GUEST_GPA 0xE0000000ull
#define FL_GUEST_PAGES 16ull
#define FL_GUEST_WINDOW (1ull << 39) /* guest virtual address of the target page */
#define RUN_TIMEOUT_MS 2000
#define ACCESS_TIMEOUT_MS 1500
#define WAKE_WAIT_MS 150

/* ------------------------------------------------------------------ JSON in */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };
typedef struct J {
  int t;
  double n;
  int b;
  char *s;
  int count;
  char **keys;
  struct J **vals;
} J;

static char arena[1 << 20];
static size_t arena_used;
static void *alloc(size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (arena_used + n > sizeof arena) return NULL;
  void *p = arena + arena_used;
  arena_used += n;
  return p;
}

static const char *jp;
static void ws(void) {
  while (*jp == ' ' || *jp == '\t' || *jp == '\n' || *jp == '\r') jp++;
}
static J *parse_value(void);
static char *parse_string(void) {
  if (*jp != '"') return NULL;
  jp++;
  const char *start = jp;
  size_t n = 0;
  while (*jp && *jp != '"') {
    if (*jp == '\\' && jp[1]) jp++;
    jp++;
    n++;
  }
  if (*jp != '"') return NULL;
  char *out = alloc(n + 1);
  if (!out) return NULL;
  size_t i = 0;
  for (const char *p = start; p < jp; p++) {
    if (*p == '\\') {
      p++;
      out[i++] = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
    } else {
      out[i++] = *p;
    }
  }
  out[i] = 0;
  jp++;
  return out;
}
static J *parse_value(void) {
  ws();
  J *v = alloc(sizeof(J));
  if (!v) return NULL;
  memset(v, 0, sizeof *v);
  if (*jp == '{' || *jp == '[') {
    int obj = *jp == '{';
    v->t = obj ? J_OBJ : J_ARR;
    jp++;
    int cap = 32;
    v->keys = alloc(sizeof(char *) * cap);
    v->vals = alloc(sizeof(J *) * cap);
    if (!v->keys || !v->vals) return NULL;
    ws();
    if (*jp == (obj ? '}' : ']')) {
      jp++;
      return v;
    }
    for (;;) {
      ws();
      if (v->count == cap) return NULL;
      if (obj) {
        v->keys[v->count] = parse_string();
        if (!v->keys[v->count]) return NULL;
        ws();
        if (*jp++ != ':') return NULL;
      }
      v->vals[v->count] = parse_value();
      if (!v->vals[v->count]) return NULL;
      v->count++;
      ws();
      if (*jp == ',') {
        jp++;
        continue;
      }
      if (*jp == (obj ? '}' : ']')) {
        jp++;
        return v;
      }
      return NULL;
    }
  }
  if (*jp == '"') {
    v->t = J_STR;
    v->s = parse_string();
    return v->s ? v : NULL;
  }
  if (!strncmp(jp, "true", 4)) { v->t = J_BOOL; v->b = 1; jp += 4; return v; }
  if (!strncmp(jp, "false", 5)) { v->t = J_BOOL; jp += 5; return v; }
  if (!strncmp(jp, "null", 4)) { v->t = J_NULL; jp += 4; return v; }
  char *end;
  v->t = J_NUM;
  v->n = strtod(jp, &end);
  if (end == jp) return NULL;
  jp = end;
  return v;
}

static J *get(J *o, const char *k) {
  if (!o || o->t != J_OBJ) return NULL;
  for (int i = 0; i < o->count; i++)
    if (!strcmp(o->keys[i], k)) return o->vals[i];
  return NULL;
}
/* Numbers come from JavaScript doubles: safe integers, or page-aligned values below 2^64 (exact as doubles). */
static u64 num_or(J *o, const char *k, u64 dflt) {
  J *v = get(o, k);
  if (!v || v->t != J_NUM) return dflt;
  if (v->n >= 18446744073709551616.0) return ~0ull;
  return (u64)v->n;
}
static const char *str(J *o, const char *k) {
  J *v = get(o, k);
  return v && v->t == J_STR ? v->s : NULL;
}
/* A flag word of the vocabulary: names by their bit (uAPI order), raw numbers OR'ed in (docs/VOCABULARY.md). */
struct flagname { const char *n; int bit; };
static u64 flag_word(J *o, const char *k, const struct flagname *t, size_t n) {
  J *a = get(o, k);
  u64 w = 0;
  if (!a || a->t != J_ARR) return 0;
  for (int i = 0; i < a->count; i++) {
    J *v = a->vals[i];
    if (v->t == J_NUM) w |= v->n >= 18446744073709551616.0 ? ~0ull : (u64)v->n;
    else if (v->t == J_STR)
      for (size_t b = 0; b < n; b++)
        if (!strcmp(v->s, t[b].n)) w |= 1ull << t[b].bit;
  }
  return w;
}
#define FLAGS(o, k, t) flag_word(o, k, t, sizeof t / sizeof t[0])
static const struct flagname MEMSLOT_FLAGS[] = {{"LOG_DIRTY_PAGES", 0}, {"READONLY", 1}, {"GUEST_MEMFD", 2}, {"USERFAULT", 3}};
static const struct flagname GMEM_FLAGS[] = {{"MMAP", 0}, {"INIT_SHARED", 1}};
static const struct flagname REGISTER_MODES[] = {{"MISSING", 0}, {"WP", 1}, {"MINOR", 2}};
static const struct flagname FILL_MODES[] = {{"DONTWAKE", 0}, {"WP", 1}}; /* COPY, CONTINUE, ZEROPAGE, POISON */
static const struct flagname WRITEPROTECT_MODES[] = {{"WP", 0}, {"DONTWAKE", 1}};
static const struct flagname MOVE_MODES[] = {{"DONTWAKE", 0}, {"ALLOW_SRC_HOLES", 1}};
static const struct flagname FALLOC_MODES[] = {{"KEEP_SIZE", 0}, {"PUNCH_HOLE", 1}, {"NO_HIDE_STALE", 2}, {"COLLAPSE_RANGE", 3},
                                               {"ZERO_RANGE", 4}, {"INSERT_RANGE", 5}, {"UNSHARE_RANGE", 6}, {"WRITE_ZEROES", 7}};
_Static_assert(FL_FALLOC_FL_WRITE_ZEROES == 1 << 7 && FL_FALLOC_FL_NO_HIDE_STALE == 1 << 2, "fallocate mode bits");
_Static_assert(FL_UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES == 1 << 1, "UFFDIO_MOVE mode bits");
static const struct flagname UFFD_FLAGS[] = {{"USER_MODE_ONLY", 0}, {"NONBLOCK", 11}, {"CLOEXEC", 19}};
_Static_assert(O_NONBLOCK == 1 << 11 && O_CLOEXEC == 1 << 19, "userfaultfd flags are O_NONBLOCK and O_CLOEXEC");

static int has_item(J *o, const char *k, const char *item) {
  J *a = get(o, k);
  if (!a || a->t != J_ARR) return 0;
  for (int i = 0; i < a->count; i++)
    if (a->vals[i]->t == J_STR && !strcmp(a->vals[i]->s, item)) return 1;
  return 0;
}

/* ------------------------------------------------------------------ JSON out */

/* Per thread: the actors of a race (__race) each build their operations' outcomes here. */
static __thread char outbuf[1 << 16];
static __thread size_t outlen;
static void out(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(outbuf + outlen, sizeof outbuf - outlen, fmt, ap);
  va_end(ap);
  if (n > 0) outlen += (size_t)n < sizeof outbuf - outlen ? (size_t)n : sizeof outbuf - outlen - 1;
}
static void flush_line(void) {
  fwrite(outbuf, 1, outlen, stdout);
  fputc('\n', stdout);
  fflush(stdout);
  outlen = 0;
}

static const char *errno_name(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case EFBIG: return "EFBIG";
    case ENOSPC: return "ENOSPC";
    case ESPIPE: return "ESPIPE";
    case ENOTTY: return "ENOTTY";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EHWPOISON: return "EHWPOISON";
    case ENXIO: return "ENXIO";
    case ENOSYS: return "ENOSYS";
    case EMFILE: return "EMFILE";
    default: return NULL;
  }
}
static void out_errno(int e) {
  const char *n = errno_name(e);
  if (n) out("\"errno\":\"%s\"", n);
  else out("\"errno\":\"E%d\"", e);
}
static void ok(void) { out("{\"result\":\"ok\"}"); }
static void fail(int e) { out("{"); out_errno(e); out("}"); }
static void ok_or_errno(int r) {
  if (r < 0) fail(errno);
  else ok();
}
static void unsupported(const char *why) { out("{\"unsupported\":\"%s\"}", why); }
static void helper_error(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  out("{\"helper_error\":\"%s\"}", msg);
}

/* ------------------------------------------------------------------ objects and names */

/* VMs, guest_memfds, files and userfaultfds share one fd namespace, as in the kernel: a name refers to the object it
   was last bound to, whatever its kind, and every field the kernel reads as an fd takes any name. Thread names (access
   ids) are a namespace of their own. */
enum { K_VM, K_GMEM, K_FILE, K_UFFD, K_THREAD, K_KINDS };
#define NS_FD 0
#define NS_THREAD 1
struct name { char name[40]; int kind, idx; };
static struct name names[2][MAX_OBJS];
static int nnames[2];
static int ns_of(int kind) { return kind == K_THREAD ? NS_THREAD : NS_FD; }

static struct name *binding(int ns, const char *n) {
  if (!n) return NULL;
  for (int i = 0; i < nnames[ns]; i++)
    if (!strcmp(names[ns][i].name, n)) return &names[ns][i];
  return NULL;
}
/* The object of this kind the name refers to, or -1 (unknown, closed, or re-bound to another kind). */
static int lookup(int kind, const char *n) {
  struct name *b = binding(ns_of(kind), n);
  return b && b->kind == kind ? b->idx : -1;
}
static const char *name_of(int kind, int idx) {
  int ns = ns_of(kind);
  for (int i = 0; i < nnames[ns]; i++)
    if (names[ns][i].kind == kind && names[ns][i].idx == idx) return names[ns][i].name;
  return NULL;
}
static void bind(int kind, const char *n, int idx) {
  int ns = ns_of(kind);
  struct name *b = binding(ns, n);
  if (b) {
    b->kind = kind;
    b->idx = idx;
    return;
  }
  if (nnames[ns] < MAX_OBJS) {
    snprintf(names[ns][nnames[ns]].name, sizeof names[ns][0].name, "%s", n);
    names[ns][nnames[ns]].kind = kind;
    names[ns][nnames[ns]++].idx = idx;
  }
}
static void unbind(int kind, const char *n) {
  int ns = ns_of(kind);
  for (int i = 0; i < nnames[ns]; i++)
    if (!strcmp(names[ns][i].name, n)) {
      names[ns][i] = names[ns][--nnames[ns]];
      return;
    }
}

struct vm {
  int fd;
  int nvcpu;
  int vcpu[MAX_VCPUS];
  struct fl_run *run[MAX_VCPUS];
  u8 *gmem_code; /* the internal slot's memory */
  const char *guest_error;
  /* KVM_RUN runs on a thread of its own, so a vCPU that sleeps in a userfault cannot hang the helper */
  pthread_t rth[MAX_VCPUS];
  volatile int rstate[MAX_VCPUS]; /* 0 idle, 1 in KVM_RUN, 2 returned */
  int rr[MAX_VCPUS], re[MAX_VCPUS];
  volatile int tid[MAX_VCPUS]; /* the KVM_RUN thread, as userfault messages name it (UFFD_FEATURE_THREAD_ID) */
  /* the thread "<vm>.vcpu<n>" of wake_check: 0 never slept, 1 asleep in a userfault, 2 finished (outcome kept) */
  int sleep[MAX_VCPUS];
  volatile int msgs[MAX_VCPUS]; /* userfault messages from the current KVM_RUN thread */
  int msg_uffd[MAX_VCPUS];
  u64 msg_flags[MAX_VCPUS], msg_address[MAX_VCPUS];
  char *done[MAX_VCPUS];
};
struct fdobj { int fd; u64 hpage; };
#define MAX_SPANS 64
struct map {
  int live; /* some page of the mapping is still mapped (the model drops a map once every page is unmapped) */
  int nspans;
  u64 span_start[MAX_SPANS], span_end[MAX_SPANS]; /* live byte ranges from the map's base */
  u64 len;
  int kind; /* 0 anon, 1 memfd, 2 guest_memfd */
  int alias_fd;
  u64 off;
  u64 hpage;
};
struct job {
  pthread_t th;
  volatile int state; /* 0 running, 1 done, 2 SIGBUS, 3 SIGSEGV */
  int code;           /* the signal's si_code */
  int joined;
  int write;
  u64 addr;
  u8 byte;
  volatile int value;
  int map;
  volatile int tid;
  volatile int faults; /* messages seen for this job */
  int fault_uffd;
  u64 fault_flags, fault_address;
};

static struct vm vms[MAX_OBJS];
static int nvms;
static struct fdobj gmems[MAX_OBJS], files[MAX_OBJS], uffds[MAX_OBJS];
static int ngmems, nfiles, nuffds;
static struct map maps[MAX_MAPS];
static struct job *jobs[MAX_OBJS];
static int njobs;
static int kvm_fd = -1;
static int vcpus_per_vm = 2;
static int vcpu_mmap_size;
static struct fl_cpuid *cpuid;
static int maxphys = 36;

static u64 map_base(int n) { return MAP_BASE + (u64)n * MAP_STRIDE; }
static int map_index(const char *id) {
  if (!id || id[0] != 'm') return -1;
  char *end;
  long n = strtol(id + 1, &end, 10);
  return *end || n < 0 || n >= MAX_MAPS ? -1 : (int)n;
}
static int obj_fd(int kind, int i) {
  switch (kind) {
    case K_VM: return vms[i].fd;
    case K_GMEM: return gmems[i].fd;
    case K_FILE: return files[i].fd;
    case K_UFFD: return uffds[i].fd;
  }
  return -1;
}
/* The real fd a name refers to, whatever its kind; -1 (EBADF) for a name that is not open. */
static int fd_of(const char *n) {
  struct name *b = binding(NS_FD, n);
  return b ? obj_fd(b->kind, b->idx) : -1;
}

/* ------------------------------------------------------------------ guarded memory accesses */

static __thread sigjmp_buf jb;
static __thread volatile int armed;
static __thread volatile int fault_code; /* siginfo.si_code of the signal the last guarded access took */
static void on_fault(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  if (armed) {
    armed = 0;
    fault_code = si->si_code;
    siglongjmp(jb, sig);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

/* The outcome of a signal with its si_code (schema/outcome.ts). */
static void out_signal(int sig, int code) {
  const char *c = sig == SIGBUS ? (code == BUS_MCEERR_AR ? "BUS_MCEERR_AR" : code == BUS_ADRERR ? "BUS_ADRERR" : NULL)
                                : (code == SEGV_MAPERR ? "SEGV_MAPERR" : code == SEGV_ACCERR ? "SEGV_ACCERR" : NULL);
  if (c) out("{\"result\":\"%s\",\"code\":\"%s\"}", sig == SIGBUS ? "SIGBUS" : "SIGSEGV", c);
  else helper_error("%s with si_code %d", sig == SIGBUS ? "SIGBUS" : "SIGSEGV", code);
}
static void on_alarm(int sig) { (void)sig; }

/* Returns 0 done, SIGBUS or SIGSEGV (its si_code in fault_code). */
static int guarded(volatile u8 *p, int write, u8 byte, size_t len, int *value) {
  int sig = sigsetjmp(jb, 1);
  if (sig) return sig;
  armed = 1;
  if (write)
    for (size_t i = 0; i < len; i++) p[i] = byte;
  else
    *value = p[0];
  armed = 0;
  return 0;
}

static void *job_main(void *arg) {
  struct job *j = arg;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGALRM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  __atomic_store_n(&j->tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
  int value = 0;
  int sig = guarded((volatile u8 *)(uintptr_t)j->addr, j->write, j->byte, 1, &value);
  j->value = value;
  j->code = fault_code;
  __atomic_store_n(&j->state, sig == 0 ? 1 : sig == SIGBUS ? 2 : 3, __ATOMIC_RELEASE);
  return NULL;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A message from a vCPU's KVM_RUN thread (its first fault, or a fault again after a wakeup): that vCPU's message. */
static int vcpu_refault(int uffd, const struct fl_uffd_msg *msg) {
  for (int i = 0; i < nvms; i++)
    for (int c = 0; c < vms[i].nvcpu; c++) {
      struct vm *v = &vms[i];
      if (v->rstate[c] != 1 || __atomic_load_n(&v->tid[c], __ATOMIC_ACQUIRE) != (int)msg->arg.pagefault.ptid) continue;
      v->msg_uffd[c] = uffd;
      v->msg_flags[c] = msg->arg.pagefault.flags;
      v->msg_address[c] = msg->arg.pagefault.address;
      __atomic_add_fetch(&v->msgs[c], 1, __ATOMIC_RELEASE);
      return 1;
    }
  return 0;
}

/* Guards the jobs table, the thread names and the message bookkeeping: the actors of a race drain concurrently. */
static pthread_mutex_t drain_mu = PTHREAD_MUTEX_INITIALIZER;
/* Set while the actors of a race run: memslot updates may then wait for a vCPU (synchronize_srcu) as in the kernel. */
static volatile int racing;

/* Reads every pending userfault message and gives each to the running job (or vCPU) whose thread faulted. */
static void drain_uffds_locked(int wait_us) {
  struct pollfd pfd[MAX_OBJS];
  int idx[MAX_OBJS], n = 0;
  for (int i = 0; i < nuffds && n < MAX_OBJS; i++)
    if (uffds[i].fd >= 0) {
      pfd[n].fd = uffds[i].fd;
      pfd[n].events = POLLIN;
      idx[n++] = i;
    }
  if (n == 0) {
    pthread_mutex_unlock(&drain_mu);
    if (wait_us > 0) usleep((useconds_t)wait_us);
    pthread_mutex_lock(&drain_mu);
    return;
  }
  /* A userfaultfd opened without O_NONBLOCK polls EPOLLERR (userfaultfd_poll): it is non-blocking only while read
     here, so what a scenario asked for is what every other call sees. */
  int fl[MAX_OBJS];
  for (int k = 0; k < n; k++) {
    fl[k] = fcntl(pfd[k].fd, F_GETFL);
    if (fl[k] >= 0 && !(fl[k] & O_NONBLOCK)) fcntl(pfd[k].fd, F_SETFL, fl[k] | O_NONBLOCK);
  }
  struct timespec wait = {0, (long)wait_us * 1000};
  int ready = ppoll(pfd, (nfds_t)n, &wait, NULL);
  for (int k = 0; k < n && ready > 0; k++) {
    if (!(pfd[k].revents & POLLIN)) continue;
    struct fl_uffd_msg msg;
    while (read(pfd[k].fd, &msg, sizeof msg) == sizeof msg) {
      if (msg.event != FL_UFFD_EVENT_PAGEFAULT) continue;
      /* the thread that faulted (UFFD_FEATURE_THREAD_ID): an access thread, a vCPU faulting again, or a new KVM_RUN */
      int tid = (int)msg.arg.pagefault.ptid, claimed = 0;
      for (int i = njobs - 1; i >= 0 && !claimed; i--) {
        struct job *j = jobs[i];
        if (j->state != 0 || j->tid != tid) continue;
        __atomic_add_fetch(&j->faults, 1, __ATOMIC_RELEASE);
        j->fault_uffd = idx[k];
        j->fault_flags = msg.arg.pagefault.flags;
        j->fault_address = msg.arg.pagefault.address;
        claimed = 1;
      }
      if (!claimed) vcpu_refault(idx[k], &msg); /* a message of no thread of ours is dropped */
    }
  }
  for (int k = 0; k < n; k++)
    if (fl[k] >= 0 && !(fl[k] & O_NONBLOCK)) fcntl(pfd[k].fd, F_SETFL, fl[k]);
}
/* Waits up to a poll interval for messages: 1 ms, 50 us in a race (a response is timed when it is seen). */
static void drain_uffds(void) {
  int wait_us = racing ? 50 : 1000;
  pthread_mutex_lock(&drain_mu);
  drain_uffds_locked(wait_us);
  pthread_mutex_unlock(&drain_mu);
}

static void out_blocked(struct job *j) {
  const char *u = name_of(K_UFFD, j->fault_uffd);
  out("{\"result\":\"blocked\",\"fault\":{\"uffd\":\"%s\",\"flags\":[", u ? u : "unnamed");
  int first = 1;
  if (j->fault_flags & FL_UFFD_PAGEFAULT_FLAG_WRITE) { out("\"WRITE\""); first = 0; }
  if (j->fault_flags & FL_UFFD_PAGEFAULT_FLAG_MINOR) { out("%s\"MINOR\"", first ? "" : ","); first = 0; }
  if (j->fault_flags & FL_UFFD_PAGEFAULT_FLAG_WP) { out("%s\"WP\"", first ? "" : ","); first = 0; }
  out("],\"address_offset\":%llu}}", (unsigned long long)(j->fault_address - map_base(j->map)));
}

/* ------------------------------------------------------------------ KVM */

static int open_kvm(void) {
  if (kvm_fd >= 0) return 0;
  kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm_fd < 0) return -1;
  vcpu_mmap_size = ioctl(kvm_fd, FL_KVM_GET_VCPU_MMAP_SIZE, 0);
  int nent = 256;
  cpuid = calloc(1, sizeof *cpuid + nent * sizeof(struct fl_cpuid_entry));
  cpuid->nent = nent;
  if (ioctl(kvm_fd, FL_KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
    free(cpuid);
    cpuid = NULL;
  } else {
    for (u32 i = 0; i < cpuid->nent; i++)
      if (cpuid->entries[i].function == 0x80000008) maxphys = cpuid->entries[i].eax & 0xff;
  }
  return 0;
}

/* Page layout of the internal slot: code, PML4, PDPT/PD/PT for the identity map, PDPT/PD/PT for the window. */
enum { G_CODE, G_PML4, G_PDPT0, G_PD0, G_PT0, G_PDPT1, G_PD1, G_PT1 };
#define G_ADDR(p) (FL_GUEST_GPA + (u64)(p) * PAGE)
static const u8 guest_read[] = {0x0f, 0x01, 0x3e, /* invlpg [rsi] */ 0x8a, 0x06, /* mov al,[rsi] */
                                0xe6, 0x10, /* out 0x10,al */ 0xf4 /* hlt */};
static const u8 guest_write[] = {0x0f, 0x01, 0x3e, /* invlpg [rsi] */ 0x88, 0x1e, /* mov [rsi],bl */
                                 0xe6, 0x11, /* out 0x11,al */ 0xf4 /* hlt */};

static void guest_tables(struct vm *v) {
  u64 *t = (u64 *)v->gmem_code;
#define TBL(p) (t + (p) * 512)
  memset(v->gmem_code, 0, FL_GUEST_PAGES * PAGE);
  memcpy(v->gmem_code, guest_read, sizeof guest_read);
  memcpy(v->gmem_code + 0x20, guest_write, sizeof guest_write);
  TBL(G_PML4)[0] = G_ADDR(G_PDPT0) | 3;
  TBL(G_PDPT0)[(FL_GUEST_GPA >> 30) & 511] = G_ADDR(G_PD0) | 3;
  TBL(G_PD0)[(FL_GUEST_GPA >> 21) & 511] = G_ADDR(G_PT0) | 3;
  for (u64 i = 0; i < FL_GUEST_PAGES; i++) TBL(G_PT0)[((FL_GUEST_GPA >> 12) & 511) + i] = G_ADDR(i) | 3;
  TBL(G_PML4)[(FL_GUEST_WINDOW >> 39) & 511] = G_ADDR(G_PDPT1) | 3;
  TBL(G_PDPT1)[0] = G_ADDR(G_PD1) | 3;
  TBL(G_PD1)[0] = G_ADDR(G_PT1) | 3;
#undef TBL
}

static void seg(struct fl_segment *s, u16 sel, u8 type, int code) {
  memset(s, 0, sizeof *s);
  s->base = 0;
  s->limit = 0xffffffff;
  s->selector = sel;
  s->type = type;
  s->present = 1;
  s->s = 1;
  s->g = 1;
  s->l = code;
  s->db = !code;
}

static int guest_regs(struct vm *v, int cpu, u64 entry, u64 rsi, u64 rbx) {
  struct fl_sregs sr;
  if (ioctl(v->vcpu[cpu], FL_KVM_GET_SREGS, &sr) < 0) return -1;
  seg(&sr.cs, 8, 11, 1);
  seg(&sr.ds, 16, 3, 0);
  sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
  sr.tr.base = 0;
  sr.tr.limit = 0x67;
  sr.tr.selector = 24;
  sr.tr.type = 11;
  sr.tr.present = 1;
  sr.tr.s = 0;
  sr.cr0 = 0x80050033ull; /* PG WP AM NE ET MP PE */
  sr.cr3 = G_ADDR(G_PML4);
  sr.cr4 = 0x20;          /* PAE */
  sr.efer = 0x500;        /* LME LMA */
  if (ioctl(v->vcpu[cpu], FL_KVM_SET_SREGS, &sr) < 0) return -1;
  struct fl_regs r;
  memset(&r, 0, sizeof r);
  r.rip = entry;
  r.rsp = FL_GUEST_GPA + FL_GUEST_PAGES * PAGE - 64;
  r.rflags = 2;
  r.rsi = rsi;
  r.rbx = rbx;
  return ioctl(v->vcpu[cpu], FL_KVM_SET_REGS, &r);
}

static void setup_guest(struct vm *v) {
  v->guest_error = NULL;
  for (int i = 0; i < v->nvcpu; i++) {
    v->vcpu[i] = ioctl(v->fd, FL_KVM_CREATE_VCPU, i);
    if (v->vcpu[i] < 0) { v->guest_error = "KVM_CREATE_VCPU failed"; return; }
    v->run[i] = mmap(NULL, vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu[i], 0);
    if (v->run[i] == MAP_FAILED) { v->run[i] = NULL; v->guest_error = "mmap of kvm_run failed"; return; }
    if (cpuid && ioctl(v->vcpu[i], FL_KVM_SET_CPUID2, cpuid) < 0) { v->guest_error = "KVM_SET_CPUID2 failed"; return; }
  }
  v->gmem_code = mmap(NULL, FL_GUEST_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (v->gmem_code == MAP_FAILED) { v->gmem_code = NULL; v->guest_error = "guest memory"; return; }
  guest_tables(v);
  struct fl_region r = {FL_GUEST_SLOT, 0, FL_GUEST_GPA, FL_GUEST_PAGES * PAGE, (u64)(uintptr_t)v->gmem_code};
  if (ioctl(v->fd, FL_KVM_SET_USER_MEMORY_REGION, &r) < 0) v->guest_error = "internal memslot refused";
}

static void op_create_vm(J *op) {
  if (open_kvm() < 0) { fail(errno); return; }
  int fd = ioctl(kvm_fd, FL_KVM_CREATE_VM, (unsigned long)num_or(op, "type", 0));
  if (fd < 0) { fail(errno); return; }
  if (nvms >= MAX_OBJS) { helper_error("too many VMs"); return; }
  struct vm *v = &vms[nvms];
  memset(v, 0, sizeof *v);
  v->fd = fd;
  v->nvcpu = vcpus_per_vm;
  setup_guest(v);
  bind(K_VM, str(op, "vm"), nvms++);
  ok();
}

static long cap_number(const char *c) {
  static const struct { const char *n; long v; } caps[] = {
    {"USER_MEMORY", FL_CAP_USER_MEMORY}, {"NR_MEMSLOTS", FL_CAP_NR_MEMSLOTS},
    {"MULTI_ADDRESS_SPACE", FL_CAP_MULTI_ADDRESS_SPACE}, {"READONLY_MEM", FL_CAP_READONLY_MEM},
    {"USER_MEMORY2", FL_CAP_USER_MEMORY2}, {"MEMORY_FAULT_INFO", FL_CAP_MEMORY_FAULT_INFO},
    {"MEMORY_ATTRIBUTES", FL_CAP_MEMORY_ATTRIBUTES}, {"GUEST_MEMFD", FL_CAP_GUEST_MEMFD},
    {"VM_TYPES", FL_CAP_VM_TYPES}, {"GUEST_MEMFD_FLAGS", FL_CAP_GUEST_MEMFD_FLAGS},
    {"MANUAL_DIRTY_LOG_PROTECT2", FL_CAP_MANUAL_DIRTY_LOG_PROTECT2},
  };
  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
    if (!strcmp(caps[i].n, c)) return caps[i].v;
  return -1;
}

static void op_check_extension(J *op) {
  long cap = cap_number(str(op, "cap"));
  if (cap < 0) { unsupported("a proposed capability: its number is not this kernel's"); return; }
  if (open_kvm() < 0) { fail(errno); return; }
  int fd = get(op, "vm") ? fd_of(str(op, "vm")) : kvm_fd;
  int r = ioctl(fd, FL_KVM_CHECK_EXTENSION, cap);
  if (r < 0) fail(errno);
  else out("{\"result\":\"ok\",\"value\":%d}", r);
}

static void op_create_gmem(J *op) {
  struct fl_create_gmem g = {0};
  g.size = num_or(op, "size", 0);
  g.flags = FLAGS(op, "flags", GMEM_FLAGS);
  J *res = get(op, "reserved"); /* never read by kvm_gmem_create */
  for (int i = 0; res && res->t == J_ARR && i < res->count && i < 6; i++) g.reserved[i] = (u64)res->vals[i]->n;
  int fd = ioctl(fd_of(str(op, "vm")), FL_KVM_CREATE_GUEST_MEMFD, &g);
  if (fd < 0) { fail(errno); return; }
  gmems[ngmems] = (struct fdobj){fd, 0};
  bind(K_GMEM, str(op, "gmem"), ngmems++);
  ok();
}

/* Whether a vCPU of this VM still sleeps in a userfault (after giving a wake a moment to finish it). Memslot updates
   wait in synchronize_srcu for every vCPU inside KVM_RUN, so in a sequential scenario such an update would deadlock. */
static int wait_vcpu(struct vm *v, int cpu, int ms, int stop_on_fault);
static void complete_io(struct vm *v, int cpu);
static int vcpu_asleep(const char *vmname) {
  int i = lookup(K_VM, vmname);
  if (i < 0) return 0;
  for (int c = 0; c < vms[i].nvcpu; c++)
    if (vms[i].rstate[c] != 0) {
      if (!wait_vcpu(&vms[i], c, WAKE_WAIT_MS, 0)) return 1;
      complete_io(&vms[i], c);
    }
  return 0;
}

/* ------------------------------------------------------------------ proposals, where the kernel has them */

static int probe_userfault(int vmfd);
static int probe_inplace(int vmfd);

/* Whether this kernel has a proposal (probed once, on a VM of its own). */
static int kernel_has(int (*probe)(int)) {
  if (open_kvm() < 0) return 0;
  int fd = ioctl(kvm_fd, FL_KVM_CREATE_VM, 0);
  if (fd < 0) return 0;
  int r = probe(fd);
  close(fd);
  return r;
}
static int userfault_kernel(void) {
  static int has = -1;
  if (has < 0) has = kernel_has(probe_userfault);
  return has;
}
static int inplace_kernel(void) {
  static int has = -1;
  if (has < 0) has = kernel_has(probe_inplace);
  return has;
}

/* KVM Userfault v3: the VMM's bitmap of each memslot, made when the slot is created and dropped when it is deleted
   (the model's vm.bitmaps); its address goes to the kernel in userfault_bitmap (pad2[0]). */
#define MAX_UBITMAPS 256
struct ubitmap { int vm; u32 slot; u64 npages; u64 *bits; };
static struct ubitmap ubitmaps[MAX_UBITMAPS];
static int nubitmaps;

static struct ubitmap *ubitmap_of(int vm, u32 slot) {
  for (int i = 0; i < nubitmaps; i++)
    if (ubitmaps[i].vm == vm && ubitmaps[i].slot == slot) return &ubitmaps[i];
  return NULL;
}
static struct ubitmap *ubitmap_new(int vm, u32 slot, u64 npages) {
  if (nubitmaps >= MAX_UBITMAPS) return NULL;
  struct ubitmap *b = &ubitmaps[nubitmaps++];
  *b = (struct ubitmap){vm, slot, npages, calloc((npages + 63) / 64 + 1, sizeof(u64))};
  return b;
}
static void ubitmap_drop(struct ubitmap *b) {
  free(b->bits);
  *b = ubitmaps[--nubitmaps];
}
static void ubitmaps_reset(void) {
  while (nubitmaps > 0) ubitmap_drop(&ubitmaps[0]);
}

/* userfault_set / userfault_clear: stores into the slot's bitmap, as a VMM's thread does (SIGSEGV with no buffer). */
static void op_userfault(J *op, int set) {
  if (!userfault_kernel()) { unsupported("KVM Userfault is not in this kernel: the bitmap exists only in the model"); return; }
  int vi = lookup(K_VM, str(op, "vm"));
  if (vi < 0) { fail(EBADF); return; }
  struct ubitmap *b = ubitmap_of(vi, (u32)num_or(op, "slot", 0));
  u64 first = num_or(op, "gfn_offset", 0), n = num_or(op, "npages", 0);
  if (!b || first + n > b->npages || first + n < first) { out("{\"result\":\"SIGSEGV\"}"); return; }
  for (u64 i = first; i < first + n; i++) {
    if (set) __atomic_or_fetch(&b->bits[i / 64], 1ull << (i % 64), __ATOMIC_SEQ_CST);
    else __atomic_and_fetch(&b->bits[i / 64], ~(1ull << (i % 64)), __ATOMIC_SEQ_CST);
  }
  ok();
}

/* gmem_convert: KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd (v7 09/42), error_offset written back on failure. */
static void op_gmem_convert(J *op) {
  if (!inplace_kernel()) { unsupported("guest_memfd in-place conversion is not in this kernel"); return; }
  struct fl_mem_attrs2 a;
  memset(&a, 0, sizeof a);
  a.offset = num_or(op, "offset", 0);
  a.size = num_or(op, "size", 0);
  const char *to = str(op, "to");
  a.attributes = to && !strcmp(to, "private") ? FL_KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;
  a.error_offset = ~0ull;
  if (ioctl(fd_of(str(op, "gmem")), FL_KVM_SET_MEMORY_ATTRIBUTES2, &a) == 0) { ok(); return; }
  int e = errno;
  out("{");
  out_errno(e);
  if (e == EAGAIN && a.error_offset != ~0ull) out(",\"error_offset\":%llu", (unsigned long long)a.error_offset);
  out("}");
}

/* Each memslot's size in pages, as the VMM knows it: KVM_GET_DIRTY_LOG copies kvm_dirty_bitmap_bytes(memslot) out, and
   the outcome has one character per page of the slot. */
#define MAX_SLOT_SIZES 1024
struct slot_size { int vm; u32 slot; u64 npages; };
static struct slot_size slot_sizes[MAX_SLOT_SIZES];
static int nslot_sizes;

static struct slot_size *slot_size_of(int vm, u32 slot) {
  for (int i = 0; i < nslot_sizes; i++)
    if (slot_sizes[i].vm == vm && slot_sizes[i].slot == slot) return &slot_sizes[i];
  return NULL;
}
/* After a successful KVM_SET_USER_MEMORY_REGION(2): a size of 0 deleted the slot. */
static void slot_size_set(int vm, u32 slot, u64 npages) {
  if (vm < 0) return;
  struct slot_size *z = slot_size_of(vm, slot);
  if (npages == 0) {
    if (z) *z = slot_sizes[--nslot_sizes];
  } else if (z) {
    z->npages = npages;
  } else if (nslot_sizes < MAX_SLOT_SIZES) {
    slot_sizes[nslot_sizes++] = (struct slot_size){vm, slot, npages};
  }
}

static void op_set_memory_region(J *op) {
  if (!racing && vcpu_asleep(str(op, "vm"))) {
    unsupported("a vCPU of this VM sleeps in a userfault: the memslot update would wait for it in synchronize_srcu (a deadlock in a sequential scenario)");
    return;
  }
  u32 flags = (u32)FLAGS(op, "flags", MEMSLOT_FLAGS);
  const char *us = str(op, "userspace");
  u64 hva = (us ? map_base(map_index(us)) : 0) + num_or(op, "userspace_offset", 0);
  int vmfd = fd_of(str(op, "vm"));
  int r;
  const char *io = str(op, "ioctl");
  if (io && !strcmp(io, "REGION")) {
    struct fl_region m = {(u32)num_or(op, "slot", 0), flags, num_or(op, "guest_phys_addr", 0), num_or(op, "memory_size", 0), hva};
    r = ioctl(vmfd, FL_KVM_SET_USER_MEMORY_REGION, &m);
  } else {
    struct fl_region2 m;
    memset(&m, 0, sizeof m);
    m.slot = (u32)num_or(op, "slot", 0);
    m.flags = flags;
    m.guest_phys_addr = num_or(op, "guest_phys_addr", 0);
    m.memory_size = num_or(op, "memory_size", 0);
    m.userspace_addr = hva;
    m.guest_memfd_offset = num_or(op, "guest_memfd_offset", 0);
    /* no guest_memfd named: fd 0 (the helper's stdin, a pipe: not a guest_memfd); an unknown name: fd -1 */
    m.guest_memfd = get(op, "guest_memfd") ? (u32)fd_of(str(op, "guest_memfd")) : 0;
    m.pad1 = (u32)num_or(op, "pad1", 0);
    J *pad2 = get(op, "pad2");
    for (int i = 0; pad2 && pad2->t == J_ARR && i < pad2->count && i < 14; i++) m.pad2[i] = (u64)pad2->vals[i]->n;
    int vi = lookup(K_VM, str(op, "vm"));
    struct ubitmap *b = vi < 0 ? NULL : ubitmap_of(vi, m.slot);
    int made = 0;
    if (vi >= 0 && !b && m.memory_size > 0 && userfault_kernel()) {
      b = ubitmap_new(vi, m.slot, m.memory_size / PAGE);
      made = 1;
    }
    /* the VMM's own bitmap, unless the scenario gives a raw pointer: userfault_bitmap as a number, or a nonzero pad2[0]
       (the word userfault_bitmap takes) with no userfault_bitmap field */
    J *ub = get(op, "userfault_bitmap");
    if (flags & FL_KVM_MEM_USERFAULT)
      m.pad2[0] = ub && ub->t == J_NUM ? num_or(op, "userfault_bitmap", 0) : !ub && m.pad2[0] ? m.pad2[0] : b ? (u64)(uintptr_t)b->bits : 0;
    r = ioctl(vmfd, FL_KVM_SET_USER_MEMORY_REGION2, &m);
    int e = errno;
    if (b && ((r < 0 && made) || (r == 0 && m.memory_size == 0))) ubitmap_drop(b);
    errno = e;
  }
  if (r == 0) slot_size_set(lookup(K_VM, str(op, "vm")), (u32)num_or(op, "slot", 0), num_or(op, "memory_size", 0) / PAGE);
  ok_or_errno(r);
}

/* ------------------------------------------------------------------ dirty logging */

static const struct flagname DIRTY_LOG_MANUAL[] = {{"ENABLE", 0}, {"INITIALLY_SET", 1}};

/* enable_cap: KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) on the VM, args[0] and flags as given. */
static void op_enable_cap(J *op) {
  struct fl_enable_cap c;
  memset(&c, 0, sizeof c);
  c.cap = FL_CAP_MANUAL_DIRTY_LOG_PROTECT2;
  c.flags = (u32)num_or(op, "flags", 0);
  c.args[0] = FLAGS(op, "args0", DIRTY_LOG_MANUAL);
  ok_or_errno(ioctl(fd_of(str(op, "vm")), FL_KVM_ENABLE_CAP, &c));
}

/* The largest slot whose bitmap fits an answer line (64 KiB) as one character per page. */
#define DIRTY_LOG_MAX_PAGES 60000ull

/* get_dirty_log: KVM_GET_DIRTY_LOG into a buffer of the slot's size; a slot the helper never made gets no buffer
   (the kernel refuses such a slot before it copies: EINVAL or ENOENT; were it to copy, EFAULT would show it). */
static void op_get_dirty_log(J *op) {
  int vi = lookup(K_VM, str(op, "vm"));
  u32 slot = (u32)num_or(op, "slot", 0);
  struct slot_size *z = vi < 0 ? NULL : slot_size_of(vi, slot);
  u64 npages = z ? z->npages : 0;
  if (npages > DIRTY_LOG_MAX_PAGES) { unsupported("a dirty bitmap of more than 60000 pages (the answer line holds 64 KiB)"); return; }
  u64 *bits = npages ? calloc((npages + 63) / 64, sizeof(u64)) : NULL;
  struct fl_dirty_log d = {slot, 0, (u64)(uintptr_t)bits};
  int r = ioctl(fd_of(str(op, "vm")), FL_KVM_GET_DIRTY_LOG, &d);
  int e = errno;
  if (r < 0) fail(e);
  else {
    out("{\"result\":\"ok\",\"dirty_bitmap\":\"");
    for (u64 i = 0; i < npages; i++) out("%c", bits[i / 64] >> (i % 64) & 1 ? '1' : '0');
    out("\"}");
  }
  free(bits);
}

/* clear_dirty_log: KVM_CLEAR_DIRTY_LOG with a bitmap of num_pages bits (whole longs, as the kernel copies them): the
   bits `pages` names, or all num_pages. A num_pages beyond the slot's size gets no buffer: the kernel refuses it
   before copy_from_user (EINVAL or ENOENT). */
static void op_clear_dirty_log(J *op) {
  int vi = lookup(K_VM, str(op, "vm"));
  u32 slot = (u32)num_or(op, "slot", 0);
  struct slot_size *z = vi < 0 ? NULL : slot_size_of(vi, slot);
  u64 num = num_or(op, "num_pages", 0), words = (num + 63) / 64;
  u64 *bits = z && num <= z->npages && words > 0 ? calloc(words, sizeof(u64)) : NULL;
  J *pages = get(op, "pages");
  if (bits && pages && pages->t == J_ARR) {
    for (int i = 0; i < pages->count; i++) {
      u64 p = (u64)pages->vals[i]->n;
      if (p < words * 64) bits[p / 64] |= 1ull << (p % 64);
    }
  } else if (bits) {
    for (u64 p = 0; p < num; p++) bits[p / 64] |= 1ull << (p % 64);
  }
  struct fl_clear_dirty_log c = {slot, (u32)num, num_or(op, "first_page", 0), (u64)(uintptr_t)bits};
  int r = ioctl(fd_of(str(op, "vm")), FL_KVM_CLEAR_DIRTY_LOG, &c);
  int e = errno;
  free(bits);
  errno = e;
  ok_or_errno(r);
}

static void op_set_memory_attributes(J *op) {
  struct fl_mem_attrs a = {num_or(op, "address", 0), num_or(op, "size", 0),
                           has_item(op, "attributes", "PRIVATE") ? FL_KVM_MEMORY_ATTRIBUTE_PRIVATE : 0,
                           num_or(op, "flags", 0)};
  ok_or_errno(ioctl(fd_of(str(op, "vm")), FL_KVM_SET_MEMORY_ATTRIBUTES, &a));
}

struct run_arg { struct vm *v; int cpu; };
static void *run_main(void *p) {
  struct run_arg *a = p;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGALRM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  struct vm *v = a->v;
  int cpu = a->cpu;
  free(a);
  __atomic_store_n(&v->tid[cpu], (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
  int r = ioctl(v->vcpu[cpu], FL_KVM_RUN, 0);
  v->re[cpu] = errno;
  v->rr[cpu] = r;
  __atomic_store_n(&v->rstate[cpu], 2, __ATOMIC_RELEASE);
  return NULL;
}

/* Waits up to ms for the vCPU's KVM_RUN to return; 1 when it did (joined, state idle again). With stop_on_fault it
   also stops (0) at the first userfault message from the run's thread. */
static int wait_vcpu(struct vm *v, int cpu, int ms, int stop_on_fault) {
  long deadline = now_ms() + ms;
  for (;;) {
    if (__atomic_load_n(&v->rstate[cpu], __ATOMIC_ACQUIRE) == 2) {
      pthread_join(v->rth[cpu], NULL);
      v->rstate[cpu] = 0;
      return 1;
    }
    if (now_ms() >= deadline) return 0;
    if (stop_on_fault && __atomic_load_n(&v->msgs[cpu], __ATOMIC_ACQUIRE) > 0) return 0;
    drain_uffds();
  }
}

/* KVM_RUN on the vCPU's thread: the return value, or -2 when it sleeps in a userfault, -3 on a time-out. */
static int run_vcpu(struct vm *v, int cpu) {
  v->run[cpu]->immediate_exit = 0;
  v->run[cpu]->exit_reason = 0;
  struct run_arg *a = malloc(sizeof *a);
  a->v = v;
  a->cpu = cpu;
  v->msgs[cpu] = 0;
  v->tid[cpu] = 0;
  __atomic_store_n(&v->rstate[cpu], 1, __ATOMIC_RELEASE);
  pthread_create(&v->rth[cpu], NULL, run_main, a);
  if (wait_vcpu(v, cpu, RUN_TIMEOUT_MS, 1)) {
    errno = v->re[cpu];
    return v->rr[cpu];
  }
  return __atomic_load_n(&v->msgs[cpu], __ATOMIC_ACQUIRE) > 0 ? -2 : -3;
}

/* Lets KVM finish a pending port I/O or MMIO exit without re-entering the guest. */
static void complete_io(struct vm *v, int cpu) {
  v->run[cpu]->immediate_exit = 1;
  ioctl(v->vcpu[cpu], FL_KVM_RUN, 0);
  v->run[cpu]->immediate_exit = 0;
}

/* What a finished KVM_RUN of this vCPU returned (r, with errno e), as an outcome; `okword` is "ok", or "completed"
   for a thread that slept in a userfault first (wake_check). A port I/O or MMIO exit is then completed. */
static void out_vcpu_result(struct vm *v, int cpu, int r, int e, const char *okword) {
  struct fl_run *run = v->run[cpu];
  if (r < 0) {
    if ((e == EFAULT || e == EHWPOISON || e == EIO || e == ENOMEM) && run->exit_reason == FL_KVM_EXIT_MEMORY_FAULT) {
      out("{\"result\":\"exit\",\"exit\":\"memory_fault\",");
      out_errno(e);
      u64 f = run->u.memory_fault.flags;
      int both = (f & FL_KVM_MEMORY_EXIT_FLAG_PRIVATE) && (f & FL_KVM_MEMORY_EXIT_FLAG_USERFAULT);
      out(",\"gpa\":%llu,\"size\":%llu,\"flags\":[%s%s%s]}", (unsigned long long)run->u.memory_fault.gpa,
          (unsigned long long)run->u.memory_fault.size, f & FL_KVM_MEMORY_EXIT_FLAG_PRIVATE ? "\"PRIVATE\"" : "", both ? "," : "",
          f & FL_KVM_MEMORY_EXIT_FLAG_USERFAULT ? "\"USERFAULT\"" : "");
    } else {
      fail(e);
    }
    return;
  }
  switch (run->exit_reason) {
    case FL_KVM_EXIT_IO:
      if (run->u.io.port == 0x10) out("{\"result\":\"%s\",\"value\":%u}", okword, ((u8 *)run)[run->u.io.data_offset]);
      else if (run->u.io.port == 0x11) out("{\"result\":\"%s\"}", okword);
      else helper_error("unexpected port 0x%x", run->u.io.port);
      complete_io(v, cpu);
      return;
    case FL_KVM_EXIT_MMIO:
      out("{\"result\":\"exit\",\"exit\":\"mmio\",\"gpa\":%llu,\"write\":%s}", (unsigned long long)run->u.mmio.phys_addr,
          run->u.mmio.is_write ? "true" : "false");
      complete_io(v, cpu);
      return;
    case FL_KVM_EXIT_INTERNAL_ERROR:
      helper_error("KVM_EXIT_INTERNAL_ERROR suberror %u", run->u.internal.suberror);
      return;
    default:
      helper_error("unexpected exit reason %u", run->exit_reason);
  }
}

static void out_vcpu_blocked(struct vm *v, int cpu) {
  const char *u = name_of(K_UFFD, v->msg_uffd[cpu]);
  u64 f = v->msg_flags[cpu];
  int m = (int)((v->msg_address[cpu] - MAP_BASE) / MAP_STRIDE);
  out("{\"result\":\"blocked\",\"fault\":{\"uffd\":\"%s\",\"flags\":[%s%s%s],\"address_offset\":%llu}}", u ? u : "unnamed",
      f & FL_UFFD_PAGEFAULT_FLAG_WRITE ? "\"WRITE\"" : "",
      f & FL_UFFD_PAGEFAULT_FLAG_MINOR ? (f & FL_UFFD_PAGEFAULT_FLAG_WRITE ? ",\"MINOR\"" : "\"MINOR\"") : "",
      f & FL_UFFD_PAGEFAULT_FLAG_WP ? (f & 3 ? ",\"WP\"" : "\"WP\"") : "",
      (unsigned long long)(v->msg_address[cpu] - map_base(m)));
}

/* A new access on the vCPU is a new thread: the record of the one before it is forgotten. */
static void forget_vcpu_thread(struct vm *v, int cpu) {
  v->sleep[cpu] = 0;
  free(v->done[cpu]);
  v->done[cpu] = NULL;
}

static void op_vcpu_access(J *op) {
  int vi = lookup(K_VM, str(op, "vm"));
  if (vi < 0) { fail(EBADF); return; }
  struct vm *v = &vms[vi];
  u64 cpu = num_or(op, "vcpu", 0);
  if (cpu >= (u64)v->nvcpu) { fail(EBADF); return; }
  const char *kind = str(op, "kind");
  if (!strcmp(kind, "exec")) { unsupported("exec would run arbitrary guest bytes; only loads and stores are run"); return; }
  if (get(op, "private")) { unsupported("no VM type with private memory on this kernel"); return; }
  if (v->guest_error) { unsupported(v->guest_error); return; }
  if (v->rstate[cpu] != 0) {
    /* still asleep in a userfault from an earlier access: let a wake finish it, else it cannot run now */
    if (!wait_vcpu(v, (int)cpu, WAKE_WAIT_MS, 0)) { unsupported("this vCPU is still blocked in a userfault"); return; }
    complete_io(v, (int)cpu);
  }
  forget_vcpu_thread(v, (int)cpu);
  u64 gpa = num_or(op, "gpa", 0);
  if (gpa >= (1ull << maxphys)) { unsupported("gpa beyond the guest's MAXPHYADDR"); return; }
  if (gpa >= FL_GUEST_GPA && gpa < FL_GUEST_GPA + FL_GUEST_PAGES * PAGE) { unsupported("gpa in the helper's own memslot"); return; }
  int write = !strcmp(kind, "write");
  /* each vCPU has its own window page (PTE `cpu` of the window's table), so vCPUs of one VM can race */
  if (!racing) guest_tables(v);
  __atomic_store_n(&((u64 *)v->gmem_code)[G_PT1 * 512 + cpu], (gpa & ~(PAGE - 1)) | 3, __ATOMIC_RELEASE);
  u64 window = FL_GUEST_WINDOW + cpu * PAGE + (gpa & (PAGE - 1));
  if (guest_regs(v, (int)cpu, G_ADDR(G_CODE) + (write ? 0x20 : 0), window, num_or(op, "byte", 0)) < 0) {
    helper_error("setting guest registers: %s", strerror(errno));
    return;
  }
  int r = run_vcpu(v, (int)cpu);
  if (r == -2) {
    v->sleep[cpu] = 1;
    pthread_mutex_lock(&drain_mu); /* the message fields, as the drain that counted it wrote them */
    out_vcpu_blocked(v, (int)cpu);
    pthread_mutex_unlock(&drain_mu);
    return;
  }
  if (r == -3) {
    helper_error("KVM_RUN neither returned nor reported a userfault within %d ms", RUN_TIMEOUT_MS);
    return;
  }
  out_vcpu_result(v, (int)cpu, r, errno, "ok");
}

/* wake_check of "<vm>.vcpu<n>": the vCPU's thread of the last access, if it slept on a userfault. */
static void vcpu_wake_check(const char *id) {
  const char *dot = strrchr(id, '.');
  char vm[40];
  char *end;
  long cpu = dot && !strncmp(dot, ".vcpu", 5) ? strtol(dot + 5, &end, 10) : -1;
  if (cpu < 0 || *end || dot[5] == 0 || (size_t)(dot - id) >= sizeof vm) { fail(ESRCH); return; }
  snprintf(vm, sizeof vm, "%.*s", (int)(dot - id), id);
  int vi = lookup(K_VM, vm);
  struct vm *v = vi < 0 ? NULL : &vms[vi];
  if (!v || cpu >= v->nvcpu || v->sleep[cpu] == 0) { fail(ESRCH); return; }
  if (v->sleep[cpu] == 2) { out("%s", v->done[cpu]); return; }
  /* asleep: give a wakeup up to 150 ms to finish it (a re-fault after a wakeup updates its message meanwhile) */
  if (!wait_vcpu(v, (int)cpu, WAKE_WAIT_MS, 0)) {
    pthread_mutex_lock(&drain_mu);
    out_vcpu_blocked(v, (int)cpu);
    pthread_mutex_unlock(&drain_mu);
    return;
  }
  size_t mark = outlen;
  out_vcpu_result(v, (int)cpu, v->rr[cpu], v->re[cpu], "completed");
  v->done[cpu] = strndup(outbuf + mark, outlen - mark);
  v->sleep[cpu] = 2;
}

/* ------------------------------------------------------------------ files and mappings */

static void op_memfd(J *op) {
  J *h = get(op, "hugetlb");
  unsigned flags = FL_MFD_CLOEXEC;
  u64 hpage = 0;
  if (h && ((h->t == J_BOOL && h->b) || (h->t == J_STR && !strcmp(h->s, "2M")))) {
    flags |= FL_MFD_HUGETLB | FL_MFD_HUGE_2MB;
    hpage = 2ull << 20;
  } else if (h && h->t == J_STR && !strcmp(h->s, "1G")) {
    flags |= FL_MFD_HUGETLB | FL_MFD_HUGE_1GB;
    hpage = 1ull << 30;
  }
  int fd = (int)syscall(SYS_memfd_create, "faultline", flags);
  if (fd < 0) { fail(errno); return; }
  if (ftruncate(fd, (off_t)num_or(op, "size", 0)) < 0) {
    int e = errno;
    close(fd);
    fail(e);
    return;
  }
  files[nfiles] = (struct fdobj){fd, hpage};
  bind(K_FILE, str(op, "file"), nfiles++);
  ok();
}

/* The fd write_alias / read_alias map through: the file opened again O_RDWR (the mapping's own fd may be read-only),
   or a dup where that cannot be done (a guest_memfd has no open). */
static int alias_fd_of(int fd, int kind) {
  if (fd < 0) return -1;
  if (kind == 1) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int r = open(path, O_RDWR | O_CLOEXEC);
    if (r >= 0) return r;
  }
  return dup(fd);
}

static void do_mmap(J *op, int kind, int fd, u64 hpage, int shared, int prot) {
  int m = map_index(str(op, "map"));
  u64 len = num_or(op, "length", 0), off = num_or(op, "offset", 0);
  u64 unit = hpage ? hpage : PAGE;
  u64 rounded = (len + unit - 1) / unit * unit;
  if (len > 0 && rounded > MAP_STRIDE && (fd >= 0 || kind == 0)) { fail(EINVAL); return; }
  int flags = (shared ? MAP_SHARED : MAP_PRIVATE) | FL_MAP_FIXED_NOREPLACE | (kind == 0 ? MAP_ANONYMOUS : 0);
  void *p = mmap((void *)(uintptr_t)map_base(m), len, prot, flags, fd, (off_t)off);
  if (p == MAP_FAILED) { fail(errno); return; }
  if ((u64)(uintptr_t)p != map_base(m)) {
    munmap(p, len);
    helper_error("mmap ignored MAP_FIXED_NOREPLACE");
    return;
  }
  if (maps[m].alias_fd > 0) close(maps[m].alias_fd);
  maps[m] = (struct map){.live = 1, .nspans = 1, .len = rounded, .kind = kind, .alias_fd = alias_fd_of(fd, kind), .off = off, .hpage = hpage};
  maps[m].span_start[0] = 0;
  maps[m].span_end[0] = rounded;
  ok();
}

static int prot_of(J *op) {
  const char *p = str(op, "prot");
  if (!p || !strcmp(p, "rw")) return PROT_READ | PROT_WRITE;
  return !strcmp(p, "r") ? PROT_READ : PROT_NONE;
}

/* mmap of a named fd, whatever it is: a memfd carries its huge page size, a guest_memfd is its own kind of mapping,
   and a VM or userfaultfd goes to the kernel too (which refuses it: no mmap in their file operations). */
static void mmap_named(J *op, const char *n, int shared, int prot) {
  struct name *b = binding(NS_FD, n);
  if (!b) { do_mmap(op, 1, -1, 0, shared, prot); return; }
  int fd = obj_fd(b->kind, b->idx);
  if (b->kind == K_FILE) do_mmap(op, 1, fd, files[b->idx].hpage, shared, prot);
  else do_mmap(op, b->kind == K_GMEM ? 2 : 1, fd, 0, shared, prot);
}

static void op_mmap(J *op) {
  const char *f = str(op, "file");
  J *sh = get(op, "shared");
  if (!strcmp(f, "anon")) {
    do_mmap(op, 0, -1, 0, sh && sh->b, prot_of(op));
    return;
  }
  mmap_named(op, f, sh ? sh->b : 1, prot_of(op));
}

static void op_gmem_mmap(J *op) {
  J *sh = get(op, "shared");
  mmap_named(op, str(op, "gmem"), sh ? sh->b : 1, PROT_READ | PROT_WRITE);
}

/* open("/proc/self/fd/N", mode) of whatever the name is: a memfd opens again (hugetlbfs keeps its page size), an
   anon inode refuses (ENXIO), a name that is not open is no entry there (fd -1: ENOENT). */
static void op_reopen(J *op) {
  struct name *b = binding(NS_FD, str(op, "from"));
  const char *m = str(op, "mode");
  int flags = !strcmp(m, "r") ? O_RDONLY : !strcmp(m, "w") ? O_WRONLY : O_RDWR;
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", b ? obj_fd(b->kind, b->idx) : -1);
  int fd = open(path, flags | O_CLOEXEC);
  if (fd < 0) { fail(errno); return; }
  files[nfiles] = (struct fdobj){fd, b && b->kind == K_FILE ? files[b->idx].hpage : 0};
  bind(K_FILE, str(op, "file"), nfiles++);
  ok();
}

static void op_munmap(J *op) {
  int m = map_index(str(op, "map"));
  u64 off = num_or(op, "offset", 0);
  u64 len = get(op, "len") ? num_or(op, "len", 0) : maps[m].live ? maps[m].len - off : PAGE;
  int r = munmap((void *)(uintptr_t)(map_base(m) + off), len);
  if (r == 0 && maps[m].live) {
    /* subtract [off, off+len) (rounded to pages) from the live spans */
    u64 a = off, b = off + (len + PAGE - 1) / PAGE * PAGE;
    struct map *mp = &maps[m];
    u64 ns[MAX_SPANS], ne[MAX_SPANS];
    int n = 0;
    for (int i = 0; i < mp->nspans; i++) {
      if (mp->span_start[i] < a && n < MAX_SPANS) { ns[n] = mp->span_start[i]; ne[n++] = mp->span_end[i] < a ? mp->span_end[i] : a; }
      if (mp->span_end[i] > b && n < MAX_SPANS) { ns[n] = mp->span_start[i] > b ? mp->span_start[i] : b; ne[n++] = mp->span_end[i]; }
    }
    memcpy(mp->span_start, ns, sizeof ns);
    memcpy(mp->span_end, ne, sizeof ne);
    mp->nspans = n;
    mp->live = n > 0;
  }
  ok_or_errno(r);
}

/* mincore(2) over the map's window: the vector is prefilled with 0xff, so the entries the kernel wrote (0 or 1 in
   their low bit) show even when it stops at a hole with ENOMEM. */
static void op_mincore(J *op) {
  int m = map_index(str(op, "map"));
  u64 len = num_or(op, "len", 0);
  u64 pages = len / PAGE + (len % PAGE != 0);
  /* The window holds this map only: the kernel writes no more entries than the map has pages before a hole. */
  u64 room = maps[m].live ? maps[m].len / PAGE : 0;
  u64 n = pages < room ? pages : room;
  if (n > (1ull << 15)) { unsupported("mincore of more than 128 MiB (the answer line holds 64 KiB)"); return; }
  unsigned char *vec = malloc(n ? n : 1);
  memset(vec, 0xff, n ? n : 1);
  int r = mincore((void *)(uintptr_t)(map_base(m) + num_or(op, "offset", 0)), len, vec);
  int e = errno;
  out("{");
  if (r < 0) {
    out_errno(e);
    out(",");
  } else {
    out("\"result\":\"ok\",");
  }
  out("\"vec\":\"");
  for (u64 i = 0; i < n && vec[i] != 0xff; i++) out("%c", vec[i] & 1 ? '1' : '0');
  out("\"}");
  free(vec);
}

static void op_madvise(J *op) {
  int m = map_index(str(op, "map"));
  const char *a = str(op, "advice");
  int advice = !strcmp(a, "REMOVE") ? FL_MADV_REMOVE : FL_MADV_DONTNEED;
  ok_or_errno(madvise((void *)(uintptr_t)(map_base(m) + num_or(op, "offset", 0)), num_or(op, "len", 0), advice));
}

static int falloc_mode(J *op) { return (int)(u32)FLAGS(op, "mode", FALLOC_MODES); }
static void op_file_fallocate(J *op) {
  ok_or_errno(fallocate(fd_of(str(op, "file")), falloc_mode(op), (off_t)num_or(op, "offset", 0), (off_t)num_or(op, "len", 0)));
}
static void op_gmem_fallocate(J *op) {
  ok_or_errno(fallocate(fd_of(str(op, "gmem")), falloc_mode(op), (off_t)num_or(op, "offset", 0), (off_t)num_or(op, "len", 0)));
}

static void op_pwrite(J *op) {
  u64 len = num_or(op, "len", 0);
  if (len > (64ull << 20)) { unsupported("pwrite longer than 64 MiB"); return; }
  u8 *buf = malloc(len ? len : 1);
  memset(buf, (int)num_or(op, "byte", 0), len);
  ssize_t r = pwrite(fd_of(str(op, "file")), buf, len, (off_t)num_or(op, "offset", 0));
  int e = errno;
  free(buf);
  if (r < 0) fail(e);
  else ok();
}

/* gmem_write: pwrite(2) of len bytes of `byte` into a guest_memfd (the write() series); the value is the count written. */
static void op_gmem_write(J *op) {
  u64 len = num_or(op, "len", 0);
  if (len > (64ull << 20)) { unsupported("gmem_write longer than 64 MiB"); return; }
  u8 *buf = malloc(len ? len : 1);
  memset(buf, (int)num_or(op, "byte", 0), len);
  ssize_t r = pwrite(fd_of(str(op, "gmem")), buf, len, (off_t)num_or(op, "offset", 0));
  int e = errno;
  free(buf);
  if (r < 0) fail(e);
  else out("{\"result\":\"ok\",\"value\":%lld}", (long long)r);
}

static void op_pread(J *op) {
  u8 b;
  if (get(op, "len") && num_or(op, "len", 1) == 0) {
    ssize_t r = pread(fd_of(str(op, "file")), &b, 0, (off_t)num_or(op, "offset", 0));
    if (r < 0) fail(errno);
    else out("{\"result\":\"ok\",\"value\":null}");
    return;
  }
  ssize_t r = pread(fd_of(str(op, "file")), &b, 1, (off_t)num_or(op, "offset", 0));
  if (r < 0) fail(errno);
  else if (r == 0) out("{\"result\":\"ok\",\"value\":null}");
  else out("{\"result\":\"ok\",\"value\":%u}", b);
}

static struct job *start_job(int m, u64 addr, int write, u8 byte) {
  struct job *j = calloc(1, sizeof *j);
  j->map = m;
  j->addr = addr;
  j->write = write;
  j->byte = byte;
  pthread_mutex_lock(&drain_mu);
  jobs[njobs++] = j;
  pthread_mutex_unlock(&drain_mu);
  pthread_create(&j->th, NULL, job_main, j);
  return j;
}

static void out_done(struct job *j, const char *okword) {
  if (j->state == 2) out_signal(SIGBUS, j->code);
  else if (j->state == 3) out_signal(SIGSEGV, j->code);
  else if (j->write) out("{\"result\":\"%s\"}", okword);
  else out("{\"result\":\"%s\",\"value\":%d}", okword, j->value);
}

static void op_access(J *op) {
  int m = map_index(str(op, "map"));
  if (njobs >= MAX_OBJS) { helper_error("too many access threads"); return; }
  struct job *j = start_job(m, map_base(m) + num_or(op, "offset", 0), !strcmp(str(op, "kind"), "write"), (u8)num_or(op, "byte", 0));
  /* A name only ever names a thread that slept on a userfault; a new access under the name forgets the old one
     (a sleeping one lives on unnamed). */
  const char *id = str(op, "id");
  if (id) {
    pthread_mutex_lock(&drain_mu);
    unbind(K_THREAD, id);
    pthread_mutex_unlock(&drain_mu);
  }
  long deadline = now_ms() + ACCESS_TIMEOUT_MS;
  while (now_ms() < deadline) {
    if (__atomic_load_n(&j->state, __ATOMIC_ACQUIRE) != 0) {
      pthread_join(j->th, NULL);
      j->joined = 1;
      out_done(j, "ok");
      return;
    }
    if (__atomic_load_n(&j->faults, __ATOMIC_ACQUIRE) > 0) {
      pthread_mutex_lock(&drain_mu);
      if (id) {
        int at = 0;
        while (jobs[at] != j) at++;
        bind(K_THREAD, id, at);
      }
      out_blocked(j);
      pthread_mutex_unlock(&drain_mu);
      return;
    }
    drain_uffds();
  }
  helper_error("access neither completed nor reported a userfault within %d ms", ACCESS_TIMEOUT_MS);
}

static void op_wake_check(J *op) {
  const char *id = str(op, "id");
  if (id && strstr(id, ".vcpu")) { vcpu_wake_check(id); return; }
  pthread_mutex_lock(&drain_mu);
  int i = lookup(K_THREAD, id);
  struct job *j = i < 0 ? NULL : jobs[i];
  pthread_mutex_unlock(&drain_mu);
  if (!j) { fail(ESRCH); return; } /* no thread of that name ever slept on a userfault */
  int seen = __atomic_load_n(&j->faults, __ATOMIC_ACQUIRE);
  long deadline = now_ms() + WAKE_WAIT_MS;
  for (;;) {
    if (__atomic_load_n(&j->state, __ATOMIC_ACQUIRE) != 0) {
      out_done(j, "completed");
      return;
    }
    if (__atomic_load_n(&j->faults, __ATOMIC_ACQUIRE) > seen || now_ms() >= deadline) break;
    drain_uffds();
  }
  pthread_mutex_lock(&drain_mu);
  out_blocked(j);
  pthread_mutex_unlock(&drain_mu);
}

/* write_alias / read_alias: a second MAP_SHARED mapping of the same file, made for the access and dropped after. */
static void op_alias(J *op, int write) {
  int m = map_index(str(op, "map"));
  if (!maps[m].live) { out_signal(SIGSEGV, SEGV_MAPERR); return; } /* the vocabulary's convention: nothing to alias */
  if (maps[m].kind == 0) { fail(EINVAL); return; }
  u64 unit = maps[m].hpage ? maps[m].hpage : PAGE;
  u64 start = maps[m].off + num_or(op, "offset", 0);
  u64 len = write ? num_or(op, "len", 1) : 1;
  u64 a = start / unit * unit, b = (start + len + unit - 1) / unit * unit;
  u8 *p = mmap(NULL, b - a, PROT_READ | PROT_WRITE, MAP_SHARED, maps[m].alias_fd, (off_t)a);
  if (p == MAP_FAILED) { helper_error("alias mmap: %s", strerror(errno)); return; }
  int value = 0;
  int sig = guarded(p + (start - a), write, (u8)num_or(op, "byte", 0), len, &value);
  munmap(p, b - a);
  if (sig) out_signal(sig, fault_code);
  else if (write) ok();
  else out("{\"result\":\"ok\",\"value\":%d}", value);
}

/* ------------------------------------------------------------------ userfaultfd */

static const char *const FEATURES[] = {
  "PAGEFAULT_FLAG_WP", "EVENT_FORK", "EVENT_REMAP", "EVENT_REMOVE", "MISSING_HUGETLBFS", "MISSING_SHMEM",
  "EVENT_UNMAP", "SIGBUS", "THREAD_ID", "MINOR_HUGETLBFS", "MINOR_SHMEM", "EXACT_ADDRESS", "WP_HUGETLBFS_SHMEM",
  "WP_UNPOPULATED", "POISON", "WP_ASYNC", "MOVE",
};
#define NFEATURES (int)(sizeof FEATURES / sizeof FEATURES[0])

static u64 feature_word(J *op) {
  struct flagname t[NFEATURES];
  for (int k = 0; k < NFEATURES; k++) t[k] = (struct flagname){FEATURES[k], k};
  return flag_word(op, "features", t, NFEATURES);
}

static void out_features(u64 bits) {
  out("[");
  int first = 1;
  for (int i = 0; i < 64; i++) {
    if (!(bits & (1ull << i))) continue;
    if (i < NFEATURES) out("%s\"%s\"", first ? "" : ",", FEATURES[i]);
    else out("%s\"BIT%d\"", first ? "" : ",", i);
    first = 0;
  }
  out("]");
}
static void out_ioctls(u64 bits) {
  static const struct { int bit; const char *n; } names[] = {
    {0x00, "REGISTER"}, {0x01, "UNREGISTER"}, {0x02, "WAKE"}, {0x03, "COPY"}, {0x04, "ZEROPAGE"}, {0x05, "MOVE"},
    {0x06, "WRITEPROTECT"}, {0x07, "CONTINUE"}, {0x08, "POISON"}, {0x3F, "API"},
  };
  out("[");
  int first = 1;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (bits & (1ull << names[i].bit)) {
      out("%s\"%s\"", first ? "" : ",", names[i].n);
      first = 0;
    }
  out("]");
}

static void op_uffd_open(J *op) {
  int flags = O_CLOEXEC | O_NONBLOCK | (int)(u32)FLAGS(op, "flags", UFFD_FLAGS);
  int fd = (int)syscall(SYS_userfaultfd, flags);
  if (fd < 0) { fail(errno); return; }
  u64 want = feature_word(op);
  /* THREAD_ID only fills the message's ptid (how a vCPU's re-fault is told apart); the outcome lists every feature */
  struct fl_uffdio_api api = {FL_UFFD_API, want | FL_UFFD_FEATURE_THREAD_ID, 0};
  int r = ioctl(fd, FL_UFFDIO_API, &api);
  int e = errno;
  uffds[nuffds] = (struct fdobj){fd, 0};
  bind(K_UFFD, str(op, "uffd"), nuffds++);
  if (r < 0) { out("{"); out_errno(e); out(",\"features\":[],\"ioctls\":[]}"); return; }
  out("{\"result\":\"ok\",\"features\":");
  out_features(api.features);
  out(",\"ioctls\":");
  out_ioctls(api.ioctls);
  out("}");
}

/* What an output field holds until the kernel writes it. */
#define UNWRITTEN ((s64)0x7eadbeef12345678ll)
#define UNWRITTEN_U64 0x7eadbeef12345678ull

/* userfaultfd(2), or /dev/userfaultfd's USERFAULTFD_IOC_NEW: exactly the flags asked for, no handshake. */
static void op_uffd_create(J *op) {
  int flags = (int)(u32)FLAGS(op, "flags", UFFD_FLAGS);
  J *dev = get(op, "dev");
  int fd;
  if (dev && dev->t == J_BOOL && dev->b) {
    int d = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (d < 0) { helper_error("/dev/userfaultfd: %s", strerror(errno)); return; }
    fd = ioctl(d, FL_USERFAULTFD_IOC_NEW, flags);
    int e = errno;
    close(d);
    errno = e;
  } else {
    fd = (int)syscall(SYS_userfaultfd, flags);
  }
  if (fd < 0) { fail(errno); return; }
  uffds[nuffds] = (struct fdobj){fd, 0};
  bind(K_UFFD, str(op, "uffd"), nuffds++);
  ok();
}

/* UFFDIO_API on any fd. ioctls is an output: a sentinel in it tells a struct the kernel wrote back from one it never
   touched (fget, or the ioctl of another kind of file). */
static void op_uffdio_api(J *op) {
  /* THREAD_ID only fills the message's ptid (how the helper tells threads apart); nothing else reads it */
  struct fl_uffdio_api api = {num_or(op, "api", FL_UFFD_API), feature_word(op) | FL_UFFD_FEATURE_THREAD_ID, UNWRITTEN_U64};
  int r = ioctl(fd_of(str(op, "uffd")), FL_UFFDIO_API, &api);
  int e = errno;
  if (r < 0 && api.ioctls == UNWRITTEN_U64) { fail(e); return; }
  out("{");
  if (r < 0) out_errno(e);
  else out("\"result\":\"ok\"");
  out(",\"api\":%llu,\"features\":", (unsigned long long)api.api);
  out_features(api.features);
  out(",\"ioctls\":");
  out_ioctls(api.ioctls);
  out("}");
}

static struct fl_uffdio_range range_of(J *op) {
  int m = map_index(str(op, "map"));
  return (struct fl_uffdio_range){map_base(m) + num_or(op, "offset", 0), num_or(op, "len", 0)};
}

static void op_uffd_register(J *op) {
  struct fl_uffdio_register r = {range_of(op), FLAGS(op, "mode", REGISTER_MODES), 0};
  if (ioctl(fd_of(str(op, "uffd")), FL_UFFDIO_REGISTER, &r) < 0) { fail(errno); return; }
  out("{\"result\":\"ok\",\"ioctls\":");
  out_ioctls(r.ioctls);
  out("}");
}

static void op_uffd_unregister(J *op) {
  struct fl_uffdio_range r = range_of(op);
  ok_or_errno(ioctl(fd_of(str(op, "uffd")), FL_UFFDIO_UNREGISTER, &r));
}

static void out_count(const char *field, int r, int e, s64 v) {
  out("{");
  if (r < 0) {
    out_errno(e);
    out(",");
  } else {
    out("\"result\":\"ok\",");
  }
  if (v == UNWRITTEN) out("\"%s\":null}", field);
  else out("\"%s\":%lld}", field, (long long)v);
}

static void op_uffdio(J *op, const char *name) {
  int fd = fd_of(str(op, "uffd"));
  struct fl_uffdio_range rg = range_of(op);
  u64 mode = FLAGS(op, "mode", FILL_MODES);
  int r, e;
  if (!strcmp(name, "uffdio_continue")) {
    struct fl_uffdio_continue c = {rg, mode, UNWRITTEN};
    r = ioctl(fd, FL_UFFDIO_CONTINUE, &c);
    e = errno;
    out_count("mapped", r, e, c.mapped);
  } else if (!strcmp(name, "uffdio_copy")) {
    u64 len = rg.len > (1ull << 30) ? (1ull << 30) : rg.len;
    void *src = mmap(NULL, len ? len : PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(src, (int)num_or(op, "byte", 0), len);
    struct fl_uffdio_copy c = {rg.start, (u64)(uintptr_t)src, rg.len, mode, UNWRITTEN};
    r = ioctl(fd, FL_UFFDIO_COPY, &c);
    e = errno;
    munmap(src, len ? len : PAGE);
    out_count("copy", r, e, c.copy);
  } else if (!strcmp(name, "uffdio_zeropage")) {
    struct fl_uffdio_zeropage z = {rg, mode, UNWRITTEN}; /* "WP" is bit 1: no such mode here, the kernel refuses it */
    r = ioctl(fd, FL_UFFDIO_ZEROPAGE, &z);
    e = errno;
    out_count("zeropage", r, e, z.zeropage);
  } else if (!strcmp(name, "uffdio_poison")) {
    struct fl_uffdio_poison p = {rg, mode, UNWRITTEN};
    r = ioctl(fd, FL_UFFDIO_POISON, &p);
    e = errno;
    out_count("updated", r, e, p.updated);
  } else if (!strcmp(name, "uffdio_move")) {
    int s = map_index(str(op, "src"));
    struct fl_uffdio_move mv = {rg.start, map_base(s) + num_or(op, "src_offset", 0), rg.len, FLAGS(op, "mode", MOVE_MODES), UNWRITTEN};
    r = ioctl(fd, FL_UFFDIO_MOVE, &mv);
    e = errno;
    out_count("move", r, e, mv.move);
  } else if (!strcmp(name, "uffdio_writeprotect")) {
    struct fl_uffdio_writeprotect w = {rg, FLAGS(op, "mode", WRITEPROTECT_MODES)};
    ok_or_errno(ioctl(fd, FL_UFFDIO_WRITEPROTECT, &w));
  } else {
    ok_or_errno(ioctl(fd, FL_UFFDIO_WAKE, &rg));
  }
}

/* ------------------------------------------------------------------ close, probe, reset */

/* close of any open name, whichever field names it (the kernel's close takes any fd). */
static void op_close(J *op) {
  static const char *const fields[] = {"vm", "gmem", "file", "uffd"};
  for (size_t k = 0; k < 4; k++) {
    const char *n = str(op, fields[k]);
    if (!n) continue;
    struct name *b = binding(NS_FD, n);
    int fd = b ? obj_fd(b->kind, b->idx) : -1;
    if (fd < 0) { fail(EBADF); return; }
    int r = close(fd);
    if (b->kind == K_VM) vms[b->idx].fd = -1;
    if (b->kind == K_GMEM) gmems[b->idx].fd = -1;
    if (b->kind == K_FILE) files[b->idx].fd = -1;
    if (b->kind == K_UFFD) uffds[b->idx].fd = -1;
    unbind(b->kind, n);
    ok_or_errno(r);
    return;
  }
  fail(EBADF);
}

/* The proposals are probed by what they do, not by capability numbers (KVM_CAP_USERFAULT's 243 is taken upstream). */

/* KVM Userfault v3: KVM_SET_USER_MEMORY_REGION2 accepts KVM_MEM_USERFAULT with a bitmap pointer in pad2[0]. */
static int probe_userfault(int vmfd) {
  void *mem = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return 0;
  static u64 bitmap;
  struct fl_region2 m;
  memset(&m, 0, sizeof m);
  m.flags = FL_KVM_MEM_USERFAULT;
  m.memory_size = PAGE;
  m.userspace_addr = (u64)(uintptr_t)mem;
  m.pad2[0] = (u64)(uintptr_t)&bitmap;
  int r = ioctl(vmfd, FL_KVM_SET_USER_MEMORY_REGION2, &m);
  if (r == 0) {
    m.flags = 0;
    m.memory_size = 0;
    ioctl(vmfd, FL_KVM_SET_USER_MEMORY_REGION2, &m);
  }
  munmap(mem, PAGE);
  return r == 0;
}

/* In-place conversion (v7): guest_memfd answers KVM_SET_MEMORY_ATTRIBUTES2; a zero size is EINVAL there, ENOTTY without it. */
static int probe_inplace(int vmfd) {
  struct fl_create_gmem g = {0};
  g.size = PAGE;
  int fd = ioctl(vmfd, FL_KVM_CREATE_GUEST_MEMFD, &g);
  if (fd < 0) return 0;
  struct fl_mem_attrs2 a;
  memset(&a, 0, sizeof a);
  int r = ioctl(fd, FL_KVM_SET_MEMORY_ATTRIBUTES2, &a);
  int e = errno;
  close(fd);
  return r < 0 && e == EINVAL;
}

/* userfaultfd on guest_memfd (vm_uffd_ops): a shared mapping of an MMAP|INIT_SHARED guest_memfd registers for MINOR. */
static int probe_uffd_gmem(int vmfd) {
  struct fl_create_gmem g = {0};
  g.size = PAGE;
  g.flags = FL_GUEST_MEMFD_FLAG_MMAP | FL_GUEST_MEMFD_FLAG_INIT_SHARED;
  int fd = ioctl(vmfd, FL_KVM_CREATE_GUEST_MEMFD, &g);
  if (fd < 0) return 0;
  int ok = 0;
  void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int ufd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  struct fl_uffdio_api api = {FL_UFFD_API, 0, 0};
  if (p != MAP_FAILED && ufd >= 0 && ioctl(ufd, FL_UFFDIO_API, &api) == 0) {
    struct fl_uffdio_register r = {{(u64)(uintptr_t)p, PAGE}, FL_UFFDIO_REGISTER_MODE_MINOR, 0};
    ok = ioctl(ufd, FL_UFFDIO_REGISTER, &r) == 0;
  }
  if (ufd >= 0) close(ufd);
  if (p != MAP_FAILED) munmap(p, PAGE);
  close(fd);
  return ok;
}

/* The guest check: one load from a gpa no memslot covers must come back as an MMIO exit. */
static const char *probe_guest(int vmfd) {
  struct vm v;
  memset(&v, 0, sizeof v);
  v.fd = vmfd;
  v.nvcpu = 1;
  setup_guest(&v);
  const char *guest = v.guest_error ? v.guest_error : "ok";
  if (!v.guest_error) {
    ((u64 *)v.gmem_code)[G_PT1 * 512] = 0x10000000ull | 3;
    if (guest_regs(&v, 0, G_ADDR(G_CODE), FL_GUEST_WINDOW + 8, 0) < 0) guest = "KVM_SET_SREGS/REGS refused";
    else if (run_vcpu(&v, 0) < 0) guest = "KVM_RUN failed";
    else if (v.run[0]->exit_reason != FL_KVM_EXIT_MMIO || v.run[0]->u.mmio.phys_addr != 0x10000008ull) {
      static char why[128];
      snprintf(why, sizeof why, "guest check: exit reason %u (expected MMIO)", v.run[0]->exit_reason);
      guest = why;
    }
  }
  if (v.run[0]) munmap(v.run[0], vcpu_mmap_size);
  if (v.vcpu[0] > 0) close(v.vcpu[0]);
  if (v.gmem_code) munmap(v.gmem_code, FL_GUEST_PAGES * PAGE);
  return guest;
}

static void probe_kvm(void) {
  if (open_kvm() < 0) {
    out("\"kvm\":\"/dev/kvm: %s\"", strerror(errno));
    return;
  }
  out("\"kvm\":\"ok\",\"api\":%d,\"maxphys\":%d,\"caps\":{", ioctl(kvm_fd, FL_KVM_GET_API_VERSION, 0), maxphys);
  static const char *const caps[] = {"USER_MEMORY", "NR_MEMSLOTS", "MULTI_ADDRESS_SPACE", "READONLY_MEM", "USER_MEMORY2",
                                     "MEMORY_FAULT_INFO", "MEMORY_ATTRIBUTES", "GUEST_MEMFD", "VM_TYPES", "GUEST_MEMFD_FLAGS",
                                     "MANUAL_DIRTY_LOG_PROTECT2"};
  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
    out("%s\"%s\":%d", i ? "," : "", caps[i], ioctl(kvm_fd, FL_KVM_CHECK_EXTENSION, cap_number(caps[i])));
  out("},\"vm_types\":[");
  int first = 1;
  const char *guest = "no VM";
  int userfault = 0, inplace = 0, uffd_gmem = 0;
  for (int t = 0; t < 8; t++) {
    int fd = ioctl(kvm_fd, FL_KVM_CREATE_VM, t);
    if (fd < 0) continue;
    out("%s%d", first ? "" : ",", t);
    first = 0;
    if (t == 0) {
      guest = probe_guest(fd);
      userfault = probe_userfault(fd);
      inplace = probe_inplace(fd);
      uffd_gmem = probe_uffd_gmem(fd);
    }
    close(fd);
  }
  out("],\"guest\":\"%s\",\"proposals\":{\"KVM_MEM_USERFAULT\":%s,\"GMEM_INPLACE_CONVERSION\":%s,\"UFFD_GUEST_MEMFD\":%s}", guest,
      userfault ? "true" : "false", inplace ? "true" : "false", uffd_gmem ? "true" : "false");
}

static void probe_uffd(void) {
  int ufd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  if (ufd < 0) {
    out(",\"uffd\":\"userfaultfd: %s\"", strerror(errno));
  } else {
    struct fl_uffdio_api api = {FL_UFFD_API, 0, 0};
    if (ioctl(ufd, FL_UFFDIO_API, &api) < 0) out(",\"uffd\":\"UFFDIO_API: %s\"", strerror(errno));
    else {
      out(",\"uffd\":\"ok\",\"uffd_features\":");
      out_features(api.features);
      out(",\"uffd_ioctls\":");
      out_ioctls(api.ioctls);
    }
    close(ufd);
  }
  int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev < 0) {
    out(",\"dev_userfaultfd\":\"/dev/userfaultfd: %s\"", strerror(errno));
    return;
  }
  int fd = ioctl(dev, FL_USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) out(",\"dev_userfaultfd\":\"USERFAULTFD_IOC_NEW: %s\"", strerror(errno));
  else {
    out(",\"dev_userfaultfd\":\"ok\"");
    close(fd);
  }
  close(dev);
}

static void op_probe(void) {
  out("{\"result\":\"probe\",");
  probe_kvm();
  probe_uffd();
  out("}");
}

static void op_reset(void) {
  for (int i = 0; i < nuffds; i++)
    if (uffds[i].fd >= 0) {
      close(uffds[i].fd);
      uffds[i].fd = -1; /* drain_uffds, run while the vCPUs are waited for below, polls only open ones */
    }
  long deadline = now_ms() + 2000;
  int stuck = 0;
  for (int i = 0; i < njobs; i++) {
    while (__atomic_load_n(&jobs[i]->state, __ATOMIC_ACQUIRE) == 0 && now_ms() < deadline) usleep(1000);
    if (jobs[i]->state == 0) stuck++;
    else {
      /* a thread that finished while its access waited was joined there; joining it twice is undefined */
      if (!jobs[i]->joined) pthread_join(jobs[i]->th, NULL);
      free(jobs[i]);
    }
  }
  for (int i = 0; i < nvms; i++)
    for (int c = 0; c < vms[i].nvcpu; c++)
      if (vms[i].rstate[c] != 0 && !wait_vcpu(&vms[i], c, 2000, 0)) stuck++;
  for (int m = 0; m < MAX_MAPS; m++) {
    if (maps[m].live || maps[m].alias_fd > 0) munmap((void *)(uintptr_t)map_base(m), MAP_STRIDE);
    if (maps[m].alias_fd > 0) close(maps[m].alias_fd);
    maps[m] = (struct map){0};
  }
  for (int i = 0; i < nvms; i++) {
    for (int c = 0; c < vms[i].nvcpu; c++) {
      forget_vcpu_thread(&vms[i], c);
      if (vms[i].run[c]) munmap(vms[i].run[c], vcpu_mmap_size);
      if (vms[i].vcpu[c] > 0) close(vms[i].vcpu[c]);
    }
    if (vms[i].fd >= 0) close(vms[i].fd);
    if (vms[i].gmem_code) munmap(vms[i].gmem_code, FL_GUEST_PAGES * PAGE);
  }
  for (int i = 0; i < ngmems; i++)
    if (gmems[i].fd >= 0) close(gmems[i].fd);
  for (int i = 0; i < nfiles; i++)
    if (files[i].fd >= 0) close(files[i].fd);
  ubitmaps_reset();
  nslot_sizes = 0;
  nvms = ngmems = nfiles = nuffds = njobs = 0;
  memset(nnames, 0, sizeof nnames);
  if (stuck) helper_error("%d access threads still blocked after reset", stuck);
  else out("{\"result\":\"reset\"}");
}

/* ------------------------------------------------------------------ races (__race) */

/* The actors of a concurrent scenario, each on a thread of its own, released together from a barrier; every
   operation's invocation and response are CLOCK_MONOTONIC times from the release. A watchdog ends a run whose
   actors are still blocked: it names what each waits on (its kernel wait channel), then closes every userfaultfd
   so the sleeping faults, and whatever waits for them, finish. */
#define RACE_MAX_ACTORS 8
#define RACE_MAX_OPS 64
#define RACE_TEARDOWN_MS 3000
struct race_op {
  J *op;
  long long call, ret; /* ns from the release; -1 not reached */
  char *outcome;
  char waits[64]; /* the wait channel of an operation still in flight when the watchdog fired */
};
struct actor {
  pthread_t th;
  const char *name;
  int nops, cpu;
  struct race_op ops[RACE_MAX_OPS];
  volatile int cur; /* operation in flight, or nops when done */
  volatile int tid;
  u64 rng;
};
static struct actor actors[RACE_MAX_ACTORS];
static int nactors;
static pthread_barrier_t race_start;
static pthread_mutex_t race_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t race_cv;
static int race_finished;
static long long race_t0;

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* xorshift64: each actor's jitter is drawn from the run's seed, so a run's jitter repeats. */
static u64 next_rand(u64 *s) {
  u64 x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

/* Before each operation: nothing, a sched_yield, or a spin of up to ~40000 iterations. */
static void jitter(struct actor *a) {
  u64 r = next_rand(&a->rng);
  if ((r & 3) == 1) sched_yield();
  else if ((r & 3) >= 2)
    for (volatile u64 i = (r >> 8) % ((r & 3) == 2 ? 2000 : 40000); i > 0; i--) {
    }
}

/* Operations an actor may run: they touch no name table or mapping the others read (no create, mmap or close). */
static int race_op_allowed(const char *n) {
  static const char *const ok_ops[] = {"vcpu_access", "set_memory_region", "set_memory_attributes", "userfault_set",
                                       "userfault_clear", "gmem_convert", "access", "wake_check", "write_alias",
                                       "read_alias", "uffdio_copy", "uffdio_zeropage", "uffdio_continue", "uffdio_wake",
                                       "uffdio_writeprotect", "uffdio_poison", "uffdio_move", "file_fallocate",
                                       "gmem_fallocate", "madvise", "pwrite", "pread", "mincore", "get_dirty_log",
                                       "clear_dirty_log"};
  for (size_t i = 0; i < sizeof ok_ops / sizeof ok_ops[0]; i++)
    if (n && !strcmp(n, ok_ops[i])) return 1;
  return 0;
}

static void dispatch(J *op);

static void *actor_main(void *p) {
  struct actor *a = p;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGALRM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  __atomic_store_n(&a->tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
  if (a->cpu >= 0) {
    cpu_set_t cs;
    CPU_ZERO(&cs);
    CPU_SET(a->cpu, &cs);
    pthread_setaffinity_np(pthread_self(), sizeof cs, &cs);
  }
  pthread_barrier_wait(&race_start);
  for (int i = 0; i < a->nops; i++) {
    struct race_op *r = &a->ops[i];
    jitter(a);
    outlen = 0;
    __atomic_store_n(&a->cur, i, __ATOMIC_RELEASE);
    __atomic_store_n(&r->call, now_ns() - race_t0, __ATOMIC_RELEASE);
    dispatch(r->op);
    long long ret = now_ns() - race_t0;
    r->outcome = strndup(outbuf, outlen);
    __atomic_store_n(&r->ret, ret, __ATOMIC_RELEASE); /* after the outcome: a response is read only once complete */
  }
  outlen = 0;
  pthread_mutex_lock(&race_mu);
  __atomic_store_n(&a->cur, a->nops, __ATOMIC_RELEASE);
  race_finished++;
  pthread_cond_broadcast(&race_cv);
  pthread_mutex_unlock(&race_mu);
  return NULL;
}

/* Waits until every actor finished or ms passed; 1 when all finished. */
static int wait_actors(int ms) {
  struct timespec dl;
  clock_gettime(CLOCK_MONOTONIC, &dl);
  dl.tv_sec += ms / 1000;
  dl.tv_nsec += (long)(ms % 1000) * 1000000;
  if (dl.tv_nsec >= 1000000000) { dl.tv_sec++; dl.tv_nsec -= 1000000000; }
  pthread_mutex_lock(&race_mu);
  int r = 0;
  while (race_finished < nactors && r == 0) r = pthread_cond_timedwait(&race_cv, &race_mu, &dl);
  int all = race_finished == nactors;
  pthread_mutex_unlock(&race_mu);
  return all;
}

/* The kernel function a thread sleeps in (/proc/self/task/TID/wchan), or "running". */
static void wait_channel(int tid, char *buf, size_t n) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/wchan", tid);
  snprintf(buf, n, "unknown");
  int fd = open(path, O_RDONLY);
  if (fd < 0) return;
  ssize_t k = read(fd, buf, n - 1);
  close(fd);
  if (k <= 0 || (k == 1 && buf[0] == '0')) { snprintf(buf, n, "running"); return; }
  buf[k] = 0;
  for (char *c = buf; *c; c++)
    if (*c == '"' || *c == '\\' || *c < ' ') *c = '_';
}

/* {"op":"__race","actors":[{"name","steps"}],"seed":N,"watchdog_ms":N,"pin":bool}: runs the actors concurrently
   (the setup ran before, as ordinary lines) and answers {"result":"race",...} with every operation's times and outcome. */
static void op_race(J *op) {
  J *as = get(op, "actors");
  if (!as || as->t != J_ARR || as->count < 1 || as->count > RACE_MAX_ACTORS) {
    helper_error("__race: 1 to %d actors", RACE_MAX_ACTORS);
    return;
  }
  int total = 0;
  for (int i = 0; i < as->count; i++) {
    J *steps = get(as->vals[i], "steps");
    if (!str(as->vals[i], "name") || !steps || steps->t != J_ARR) { helper_error("__race: actor %d needs a name and steps", i); return; }
    total += steps->count;
    for (int k = 0; k < steps->count; k++)
      if (!race_op_allowed(str(steps->vals[k], "op"))) {
        out("{\"unsupported\":\"%s in an actor: the helper runs only operations that create, map or close nothing concurrently\"}",
            str(steps->vals[k], "op") ? str(steps->vals[k], "op") : "an operation without a name");
        return;
      }
  }
  if (total > RACE_MAX_OPS) { helper_error("__race: more than %d operations", RACE_MAX_OPS); return; }
  u64 seed = num_or(op, "seed", 1);
  int watchdog = (int)num_or(op, "watchdog_ms", 2000);
  J *pin = get(op, "pin");
  int pinned = !pin || pin->t != J_BOOL || pin->b;
  cpu_set_t allowed;
  int cpus[CPU_SETSIZE], ncpus = 0;
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0)
    for (int c = 0; c < CPU_SETSIZE; c++)
      if (CPU_ISSET(c, &allowed)) cpus[ncpus++] = c;
  nactors = as->count;
  race_finished = 0;
  for (int i = 0; i < nactors; i++) {
    struct actor *a = &actors[i];
    J *steps = get(as->vals[i], "steps");
    memset(a, 0, sizeof *a);
    a->name = str(as->vals[i], "name");
    a->nops = steps->count;
    a->cpu = pinned && ncpus > 0 ? cpus[i % ncpus] : -1;
    a->cur = -1;
    a->rng = (seed + 1) * 0x9E3779B97F4A7C15ull ^ ((u64)(i + 1) * 0xBF58476D1CE4E5B9ull);
    if (!a->rng) a->rng = 1;
    for (int k = 0; k < a->nops; k++) a->ops[k] = (struct race_op){steps->vals[k], -1, -1, NULL, ""};
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&race_cv, &ca);
  pthread_barrier_init(&race_start, NULL, (unsigned)nactors + 1);
  racing = 1;
  for (int i = 0; i < nactors; i++) pthread_create(&actors[i].th, NULL, actor_main, &actors[i]);
  race_t0 = now_ns();
  pthread_barrier_wait(&race_start);
  int fired = !wait_actors(watchdog);
  int stuck = 0;
  if (fired) {
    for (int i = 0; i < nactors; i++) {
      int c = __atomic_load_n(&actors[i].cur, __ATOMIC_ACQUIRE);
      if (c >= 0 && c < actors[i].nops) wait_channel(actors[i].tid, actors[i].ops[c].waits, sizeof actors[i].ops[c].waits);
    }
    pthread_mutex_lock(&drain_mu);
    for (int i = 0; i < nuffds; i++)
      if (uffds[i].fd >= 0) {
        close(uffds[i].fd);
        uffds[i].fd = -1;
      }
    pthread_mutex_unlock(&drain_mu);
    stuck = !wait_actors(RACE_TEARDOWN_MS);
  }
  racing = 0;
  out("{\"result\":\"race\",\"watchdog\":%s,\"actors\":[", fired ? "true" : "false");
  for (int i = 0; i < nactors; i++) {
    struct actor *a = &actors[i];
    out("%s{\"name\":\"%s\",\"cpu\":%d,\"ops\":[", i ? "," : "", a->name, a->cpu);
    for (int k = 0; k < a->nops; k++) {
      struct race_op *r = &a->ops[k];
      long long call = __atomic_load_n(&r->call, __ATOMIC_ACQUIRE), ret = __atomic_load_n(&r->ret, __ATOMIC_ACQUIRE);
      out("%s{\"call\":", k ? "," : "");
      if (call >= 0) out("%lld", call);
      else out("null");
      if (ret >= 0 && r->outcome) out(",\"ret\":%lld,\"outcome\":%s", ret, r->outcome[0] ? r->outcome : "null");
      else out(",\"ret\":null,\"outcome\":null");
      if (r->waits[0]) out(",\"waits\":\"%s\"", r->waits);
      out("}");
    }
    out("]}");
  }
  out("]}");
  if (stuck) {
    /* a thread that cannot be joined would run into the next scenario: give up this helper */
    flush_line();
    fprintf(stderr, "faultline-helper: actors still blocked %d ms after every userfaultfd was closed\n", RACE_TEARDOWN_MS);
    _exit(3);
  }
  for (int i = 0; i < nactors; i++) {
    pthread_join(actors[i].th, NULL);
    for (int k = 0; k < actors[i].nops; k++) free(actors[i].ops[k].outcome);
  }
  pthread_barrier_destroy(&race_start);
  pthread_cond_destroy(&race_cv);
}

/* ------------------------------------------------------------------ main loop */

static void dispatch(J *op) {
  const char *name = str(op, "op");
  if (!name) { helper_error("no op"); return; }
  if (!strcmp(name, "__hello")) {
    vcpus_per_vm = (int)num_or(op, "vcpus", 2);
    if (vcpus_per_vm > MAX_VCPUS) vcpus_per_vm = MAX_VCPUS;
    out("{\"result\":\"hello\"}");
  } else if (!strcmp(name, "__probe")) op_probe();
  else if (!strcmp(name, "__reset")) op_reset();
  else if (!strcmp(name, "__race")) op_race(op);
  else if (!strcmp(name, "create_vm")) op_create_vm(op);
  else if (!strcmp(name, "check_extension")) op_check_extension(op);
  else if (!strcmp(name, "create_gmem")) op_create_gmem(op);
  else if (!strcmp(name, "set_memory_region")) op_set_memory_region(op);
  else if (!strcmp(name, "set_memory_attributes")) op_set_memory_attributes(op);
  else if (!strcmp(name, "enable_cap")) op_enable_cap(op);
  else if (!strcmp(name, "get_dirty_log")) op_get_dirty_log(op);
  else if (!strcmp(name, "clear_dirty_log")) op_clear_dirty_log(op);
  else if (!strcmp(name, "vcpu_access")) op_vcpu_access(op);
  else if (!strcmp(name, "memfd")) op_memfd(op);
  else if (!strcmp(name, "reopen")) op_reopen(op);
  else if (!strcmp(name, "mmap")) op_mmap(op);
  else if (!strcmp(name, "gmem_mmap")) op_gmem_mmap(op);
  else if (!strcmp(name, "munmap")) op_munmap(op);
  else if (!strcmp(name, "madvise")) op_madvise(op);
  else if (!strcmp(name, "mincore")) op_mincore(op);
  else if (!strcmp(name, "file_fallocate")) op_file_fallocate(op);
  else if (!strcmp(name, "gmem_fallocate")) op_gmem_fallocate(op);
  else if (!strcmp(name, "pwrite")) op_pwrite(op);
  else if (!strcmp(name, "gmem_write")) op_gmem_write(op);
  else if (!strcmp(name, "pread")) op_pread(op);
  else if (!strcmp(name, "access")) op_access(op);
  else if (!strcmp(name, "write_alias")) op_alias(op, 1);
  else if (!strcmp(name, "read_alias")) op_alias(op, 0);
  else if (!strcmp(name, "wake_check")) op_wake_check(op);
  else if (!strcmp(name, "uffd_open")) op_uffd_open(op);
  else if (!strcmp(name, "uffd_create")) op_uffd_create(op);
  else if (!strcmp(name, "uffdio_api")) op_uffdio_api(op);
  else if (!strcmp(name, "uffd_register")) op_uffd_register(op);
  else if (!strcmp(name, "uffd_unregister")) op_uffd_unregister(op);
  else if (!strncmp(name, "uffdio_", 7)) op_uffdio(op, name);
  else if (!strcmp(name, "close")) op_close(op);
  else if (!strcmp(name, "userfault_set")) op_userfault(op, 1);
  else if (!strcmp(name, "userfault_clear")) op_userfault(op, 0);
  else if (!strcmp(name, "gmem_convert")) op_gmem_convert(op);
  else if (!strcmp(name, "pin") || !strcmp(name, "unpin")) unsupported("long-term pins are exercised only by the in-place conversion proposal");
  else helper_error("unknown op %s", name);
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_NODEFER | SA_SIGINFO;
  sigaction(SIGBUS, &sa, NULL);
  sigaction(SIGSEGV, &sa, NULL);
  sa.sa_handler = on_alarm;
  sa.sa_flags = 0;
  sigaction(SIGALRM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  static char line[1 << 18];
  while (fgets(line, sizeof line, stdin)) {
    arena_used = 0;
    jp = line;
    ws();
    if (!*jp) continue;
    J *op = parse_value();
    if (!op || op->t != J_OBJ) helper_error("bad JSON line");
    else dispatch(op);
    flush_line();
  }
  return 0;
}
