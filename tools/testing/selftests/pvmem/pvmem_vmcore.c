// SPDX-License-Identifier: GPL-2.0
/*
 * pvmem_vmcore: read all of /proc/vmcore in a crash kernel and say what
 * the dump holds of one physical range (a virtio-mem device's region).
 * Not a test itself: the rig's kdump host test runs it (scenario "kdump").
 *
 *   pvmem_vmcore <start> <end> <marker>
 *
 * Prints one line:
 *   read <bytes> bytes; region <bytes> bytes, <n> markers, <n> zero pages
 * and exits 0 if every PT_LOAD segment of the dump could be read to its
 * end, 1 otherwise.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (1024 * 1024)
#define PAGE 4096

/* Occurrences of @m in @buf (@len bytes), not overlapping. */
static uint64_t count(const char *buf, size_t len, const char *m, size_t mlen)
{
	const char *p = buf, *end = buf + len;
	uint64_t n = 0;

	while ((p = memmem(p, end - p, m, mlen))) {
		n++;
		p += mlen;
	}
	return n;
}

static int zero_page(const char *p)
{
	static const char zero[PAGE];

	return !memcmp(p, zero, PAGE);
}

int main(int argc, char **argv)
{
	uint64_t start, end, total = 0, in = 0, markers = 0, zeros = 0;
	const char *marker;
	Elf64_Phdr *ph;
	Elf64_Ehdr eh;
	char *buf;
	int fd, i;

	if (argc != 4) {
		fprintf(stderr, "usage: %s <start> <end> <marker>\n", argv[0]);
		return 2;
	}
	start = strtoull(argv[1], NULL, 0);
	end = strtoull(argv[2], NULL, 0);
	marker = argv[3];
	fd = open("/proc/vmcore", O_RDONLY);
	if (fd < 0 || pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64) {
		perror("/proc/vmcore is no ELF64 dump");
		return 1;
	}
	ph = calloc(eh.e_phnum, sizeof(*ph));
	buf = malloc(CHUNK);
	if (!ph || !buf ||
	    pread(fd, ph, eh.e_phnum * sizeof(*ph), eh.e_phoff) !=
		    (ssize_t)(eh.e_phnum * sizeof(*ph))) {
		perror("program headers");
		return 1;
	}
	for (i = 0; i < eh.e_phnum; i++) {
		uint64_t off;

		if (ph[i].p_type != PT_LOAD)
			continue;
		for (off = 0; off < ph[i].p_filesz; off += CHUNK) {
			const uint64_t pa = ph[i].p_paddr + off;
			size_t len = ph[i].p_filesz - off < CHUNK ?
					     ph[i].p_filesz - off :
					     CHUNK;
			size_t p;

			if (pread(fd, buf, len, ph[i].p_offset + off) !=
			    (ssize_t)len) {
				fprintf(stderr, "short read at %#" PRIx64 "\n",
					pa);
				return 1;
			}
			total += len;
			if (pa >= end || pa + len <= start)
				continue;
			/* pvmem's segments start on memory blocks: chunks lie inside. */
			in += len;
			markers += count(buf, len, marker, strlen(marker));
			for (p = 0; p + PAGE <= len; p += PAGE)
				zeros += zero_page(buf + p);
		}
	}
	printf("read %" PRIu64 " bytes; region %" PRIu64 " bytes, %" PRIu64
	       " markers, %" PRIu64 " zero pages\n",
	       total, in, markers, zeros);
	return 0;
}
