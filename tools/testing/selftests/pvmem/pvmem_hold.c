// SPDX-License-Identifier: GPL-2.0
/*
 * pvmem_hold: data for the benchmark's unplug-with-live-data cases to
 * move, and a check that it survived.  Not a test itself: bench.py runs
 * it in the guest (Documentation/dev-tools/pvmem-testing.rst).
 *
 *   pvmem_hold write <file> <MiB>  write a patterned tmpfs file, print its sum
 *   pvmem_hold sum <file>          print a file's sum
 *   pvmem_hold anon <MiB> <dir>    a process holding <MiB> of patterned
 *                                  anonymous memory
 *   pvmem_hold pin <MiB> <dir>     the same, every page also referenced by
 *                                  a pipe nobody reads (vmsplice), so that
 *                                  none of it can migrate
 *   pvmem_hold check <dir>         the holder in <dir> checks its pattern,
 *                                  prints "intact" or "<n> words damaged"
 *                                  and ends; exit 0 only if intact
 *
 * anon and pin return once the memory is filled, leaving the holder
 * running on its own (its pid in <dir>/pid); it waits for SIGUSR1 from
 * "check", at most an hour.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#include "pvmem_util.h"

/* Bytes one pipe can hold of vmspliced pages: 64 Ki slots of a page. */
#define HOLD_PIPE (256 * MiB)
#define HOLD_WAIT_S 3600
#define HOLD_SEED 0x5eed

static int path_write(const char *dir, const char *name, const char *fmt, ...)
{
	char path[512];
	va_list ap;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	va_start(ap, fmt);
	ok = vfprintf(f, fmt, ap) > 0;
	va_end(ap);
	return fclose(f) || !ok ? -1 : 0;
}

/* Hand every page of @p to pipes nobody reads; 0 if all went in. */
static int pin(char *p, size_t len)
{
	size_t off = 0, took;
	int pfd[2];
	ssize_t n;

	if (sysfs_write("/proc/sys/fs/pipe-max-size", "268435456"))
		return -1;
	while (off < len) {
		if (pipe(pfd) || fcntl(pfd[1], F_SETPIPE_SZ, HOLD_PIPE) < 0)
			return -1;
		took = 0;
		do {
			struct iovec iov = { p + off, len - off };

			n = vmsplice(pfd[1], &iov, 1, SPLICE_F_NONBLOCK);
			if (n > 0) {
				off += n;
				took += n;
			}
		} while (n > 0 && off < len);
		/* A full pipe says EAGAIN; an empty one that takes nothing fails. */
		if (!took || (n < 0 && errno != EAGAIN))
			return -1;
	}
	return 0;
}

/* The holder: fill, say so on @ready, wait for SIGUSR1, check, record. */
static void holder(const char *dir, size_t len, int pinned, int ready)
{
	uint64_t *p, s = HOLD_SEED, bad = 0;
	struct timespec wait = { HOLD_WAIT_S, 0 };
	char c = 0, path[512];
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		_exit(1);
	for (i = 0; i < len / 8; i++)
		p[i] = pattern_next(&s);
	if ((pinned && pin((char *)p, len)) ||
	    path_write(dir, "pid", "%d\n", getpid()))
		_exit(1);
	if (write(ready, &c, 1) != 1)
		_exit(1);
	close(ready);
	if (sigtimedwait(&set, NULL, &wait) != SIGUSR1)
		_exit(1);
	for (s = HOLD_SEED, i = 0; i < len / 8; i++)
		bad += p[i] != pattern_next(&s);
	snprintf(path, sizeof(path), "%s/pid", dir);
	unlink(path);
	path_write(dir, "result",
		   bad ? "%" PRIu64 " words damaged\n" : "intact\n", bad);
	_exit(0);
}

static int start(const char *dir, size_t len, int pinned)
{
	int fds[2], null;
	pid_t pid;
	char c;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return 1;
	if (pipe(fds))
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		/* Off the rig's console: the holder outlives this command. */
		null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		setsid();
		close(fds[0]);
		holder(dir, len, pinned, fds[1]);
	}
	close(fds[1]);
	if (read(fds[0], &c, 1) != 1) {
		fprintf(stderr,
			"pvmem_hold: the holder could not fill %zu MiB%s\n",
			len / MiB, pinned ? " and pin it" : "");
		return 1;
	}
	return 0;
}

static int check(const char *dir)
{
	char path[512], line[512];
	int i, pid;
	FILE *f;

	snprintf(path, sizeof(path), "%s/result", dir);
	unlink(path);
	snprintf(line, sizeof(line), "%s/pid", dir);
	f = fopen(line, "r");
	if (!f || fscanf(f, "%d", &pid) != 1 || kill(pid, SIGUSR1)) {
		fprintf(stderr, "pvmem_hold: no holder in %s\n", dir);
		return 1;
	}
	fclose(f);
	/* Checking a few GiB under TCG takes seconds: allow ten minutes. */
	for (i = 0; i < 6000 && (f = fopen(path, "r")) == NULL; i++)
		usleep(100 * 1000);
	if (!f || !fgets(line, sizeof(line), f)) {
		fprintf(stderr, "pvmem_hold: the holder in %s did not answer\n",
			dir);
		return 1;
	}
	fclose(f);
	fputs(line, stdout);
	return strcmp(line, "intact\n") ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "write") && argc == 4) {
		size_t len = strtoull(argv[3], NULL, 0) * MiB;
		uint64_t sum = write_file(argv[2], len, HOLD_SEED);

		printf("%" PRIu64 "\n", sum);
		return sum ? 0 : 1;
	}
	if (!strcmp(cmd, "sum") && argc == 3) {
		printf("%" PRIu64 "\n", sum_file(argv[2]));
		return 0;
	}
	if ((!strcmp(cmd, "anon") || !strcmp(cmd, "pin")) && argc == 4)
		return start(argv[3], strtoull(argv[2], NULL, 0) * MiB,
			     !strcmp(cmd, "pin"));
	if (!strcmp(cmd, "check") && argc == 3)
		return check(argv[2]);
	fprintf(stderr,
		"usage: %s write <file> <MiB> | sum <file> | anon <MiB> <dir> |\n"
		"       pin <MiB> <dir> | check <dir>\n",
		argv[0]);
	return 2;
}
