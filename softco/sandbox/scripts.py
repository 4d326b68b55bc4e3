"""The sandbox's own set-up code, run by softco's python (``-I -S``) as the sandbox's first process.

Trusted code, kept as text: it runs before anything generated, in the mechanism's namespaces.
"""

from __future__ import annotations

PREAMBLE_FAILED = 125

# The launcher: the sandbox's first process. Trusted code, run by softco's own python (-I -S) once
# the mechanism's mounts are in place: copy the project into the work copy (from a directory file
# descriptor softco opened, so the project itself need not be visible), hand the copy and HOME to
# `nobody` when softco is root and drop to that user, forbid new privileges, then exec the command.
# Any failure exits PREAMBLE_FAILED: nothing generated has run.

_LAUNCHER = r"""
import ctypes, marshal, os, stat, sys
spec = marshal.loads(bytes.fromhex(sys.argv[1])); argv = sys.argv[2:]
def fail(what):
    sys.stderr.write("softco sandbox: " + what + "; the sandbox could not be set up, nothing was run\n")
    sys.stderr.flush(); os._exit(@FAILED@)
def copy(src_top, dst_top):
    todo = [(src_top, dst_top, True)]  # a walk, not a recursion: any depth
    while todo:
        src, dst, top = todo.pop()
        for name in os.listdir(src):
            if top and name in (".git", ".softco"):
                continue
            copy_one(os.path.join(src, name), os.path.join(dst, name), todo)
def copy_one(s, d, todo):
    st = os.lstat(s)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(s), d)
    elif stat.S_ISDIR(st.st_mode):
        os.mkdir(d, 0o755); todo.append((s, d, False))
    elif stat.S_ISREG(st.st_mode):  # FIFOs, sockets and devices are left out
        fi = os.open(s, os.O_RDONLY | os.O_NOFOLLOW)
        fo = os.open(d, os.O_WRONLY | os.O_CREAT | os.O_EXCL, st.st_mode & 0o755 | 0o644)
        try:
            while True:
                chunk = os.read(fi, 1 << 20)
                if not chunk:
                    break
                os.write(fo, chunk)
        finally:
            os.close(fi); os.close(fo)
def chown_tree(top, uid):
    os.lchown(top, uid, uid)
    for root, dirs, files in os.walk(top):
        if root == top and ".softco" in dirs:
            dirs.remove(".softco")  # the read-only venv is mounted there
        for n in dirs + files:
            os.lchown(os.path.join(root, n), uid, uid)
try:
    for d in spec["make"]:
        os.makedirs(d, exist_ok=True)
    if spec["src_fd"] is not None:
        copy("/proc/self/fd/%d" % spec["src_fd"], spec["dest"])
        os.close(spec["src_fd"])
    uid = spec["uid"]
    if uid is not None:
        for top in spec["chown"]:
            chown_tree(top, uid)
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in range(int(open("/proc/sys/kernel/cap_last_cap").read()) + 1):
            if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP: none can come back, even by exec
                fail("dropping capability %d: %s" % (cap, os.strerror(ctypes.get_errno())))
        os.setgroups([]); os.setgid(uid); os.setuid(uid)  # clears the effective and permitted sets
except Exception as exc:  # noqa: BLE001 - whatever it is, nothing generated may run
    fail("preparing the work copy: %s" % exc)
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
    fail("no_new_privs: " + os.strerror(ctypes.get_errno()))
os.chdir(spec["cwd"])
try:
    os.execvp(argv[0], argv)
except OSError as exc:
    sys.stderr.write("softco sandbox: cannot start %s: %s\n" % (argv[0], exc)); sys.stderr.flush()
    os._exit(127)
""".replace("@FAILED@", str(PREAMBLE_FAILED))


# Runs first under ``unshare`` (inside new mount + PID + network namespaces, with every capability):
# mount the size-limited tmpfs for the work copy and HOME, bind the venv read-only, remount every
# other mount read-only (keeping the flags the kernel locks), give /dev/shm a private tmpfs, drop every
# capability but the three the launcher needs to hand the copy to `nobody` (none when not root), then
# go on with the launcher.
_MOUNTS = r"""
import ctypes, errno, marshal, os, sys
spec = marshal.loads(bytes.fromhex(sys.argv[1]))
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
RDONLY, NOSUID, NODEV, NOEXEC, REMOUNT, BIND, REC = 1, 2, 4, 8, 32, 4096, 16384
def mfail(what):
    sys.stderr.write("softco sandbox: " + what + "; filesystem isolation could not be set up, nothing was run\n")
    sys.stderr.flush(); os._exit(@FAILED@)
def mount(src, dst, fstype, flags, data=None):
    enc = lambda s: s.encode() if s is not None else None
    if libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)) == 0:
        return 0
    return ctypes.get_errno()
last_cap = int(open("/proc/sys/kernel/cap_last_cap").read())
if mount(None, "/", None, REC | (1 << 18)) not in (0,):  # MS_PRIVATE: nothing propagates to the host
    mfail("making mounts private")
os.umask(0o022)
opath = lambda p: os.open(p, os.O_PATH | os.O_DIRECTORY)
# every bind source is opened before anything covers it
rebound = [(opath(p), p) for p in spec["rebound"]]
srcs = [(opath(src), dst) for src, dst in spec["ro_binds"]]
rws = [(opath(p), p) for p in spec["rw_binds"]]
for path in spec["hidden"]:
    err = mount("tmpfs", path, "tmpfs", NOSUID | NODEV, "size=1m,mode=0755")
    if err:
        mfail("hiding %s: %s" % (path, os.strerror(err)))
for fd, path in rebound:
    os.makedirs(path, exist_ok=True)
    err = mount("/proc/self/fd/%d" % fd, path, None, BIND | REC)
    if err:
        mfail("bind %s: %s" % (path, os.strerror(err)))
    os.close(fd)
for path in spec.get("late", []):
    err = mount("tmpfs", path, "tmpfs", NOSUID | NODEV, "size=1m,mode=0755")
    if err:
        mfail("hiding %s: %s" % (path, os.strerror(err)))
for path in spec.get("masked", []):
    err = mount("/dev/null", path, None, BIND)
    if err:
        mfail("hiding %s: %s" % (path, os.strerror(err)))
for path in spec["tmpfs"]:
    os.makedirs(path, exist_ok=True)
    err = mount("tmpfs", path, "tmpfs", NOSUID | NODEV, "size=%d,mode=0755" % spec["size"])
    if err:
        mfail("tmpfs on %s: %s" % (path, os.strerror(err)))
for fd, dst in srcs:
    os.makedirs(dst, exist_ok=True)
    err = mount("/proc/self/fd/%d" % fd, dst, None, BIND | REC)
    if err:
        mfail("bind %s: %s" % (dst, os.strerror(err)))
    os.close(fd)
keep = spec["tmpfs"] + spec["rw_binds"]
for fd, p in rws:
    os.makedirs(p, exist_ok=True)
    err = mount("/proc/self/fd/%d" % fd, p, None, BIND | REC)
    if err:
        mfail("bind %s: %s" % (p, os.strerror(err)))
    os.close(fd)
def unescape(s):  # mountinfo's octal escapes (\\040 for a space): by hand, `re` costs an import
    parts = s.split("\\")
    out = parts[0]
    for p in parts[1:]:
        if len(p) >= 3 and all(c in "01234567" for c in p[:3]):
            out += chr(int(p[:3], 8)) + p[3:]
        else:
            out += "\\" + p
    return out
points = []
for line in open("/proc/self/mountinfo"):
    f = line.split()
    points.append((unescape(f[4]), set(f[5].split(","))))
for point, opts in points:
    if point in keep:
        continue
    flags = REMOUNT | BIND | RDONLY
    flags |= (NOSUID if "nosuid" in opts else 0) | (NODEV if "nodev" in opts else 0)
    flags |= NOEXEC if "noexec" in opts else 0
    err = mount(None, point, None, flags)
    if err and err not in (errno.EINVAL, errno.ENOENT):  # EINVAL, ENOENT: covered by a later mount
        mfail("read-only remount of %s: %s" % (point, os.strerror(err)))
under = lambda p, q: p == q or p.startswith(q.rstrip("/") + "/")
for point, _ in points:  # verify: every path that is not writable on purpose is read-only now
    if any(under(point, k) for k in keep):
        continue
    try:
        if not os.statvfs(point).f_flag & os.ST_RDONLY:
            mfail("%s is still writable" % point)
    except OSError:
        pass
shm = "size=%d,mode=1777" % spec["size"]
err = mount("tmpfs", "/dev/shm", "tmpfs", NOSUID | NODEV, shm) if os.path.isdir("/dev/shm") else 0
if err:
    mfail("private /dev/shm: " + os.strerror(err))
KEEP_CAPS = (0, 6, 7, 8) if spec["launcher"]["uid"] is not None else ()  # CHOWN, SETGID, SETUID, SETPCAP
for cap in range(last_cap + 1):
    if cap not in KEEP_CAPS and libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
        mfail("dropping capability %d: %s" % (cap, os.strerror(ctypes.get_errno())))
sys.argv[1] = marshal.dumps(spec["launcher"]).hex()
""".replace("@FAILED@", str(PREAMBLE_FAILED))
