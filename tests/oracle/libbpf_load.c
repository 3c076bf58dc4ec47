// Test-only oracle built on libbpf (libbpf-dev): what does libbpf do with an object?
//
//   libbpf_load progs OBJ [BTF]   one line per program: "<name> ok" or "<name> fail <errno>"
//                                 (each program loaded alone, as bcc-core's test does)
//   libbpf_load relos OBJ [BTF]   libbpf's debug log of CO-RE relocation decisions
//                                 (maps sized at run time by their tool, max_entries 0,
//                                 get a size so that libbpf gets as far as relocating)
//
// BTF: relocate against this BTF file instead of the running kernel's.
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

static int print_all(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return vfprintf(stdout, fmt, args);
}

static int print_none(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

static struct bpf_object *open_obj(const char *path, const char *btf)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = btf);
	struct bpf_object *obj = bpf_object__open_file(path, &opts);

	if (!obj || libbpf_get_error(obj)) {
		fprintf(stderr, "open %s failed\n", path);
		return NULL;
	}
	return obj;
}

int main(int argc, char **argv)
{
	const char *btf = argc > 3 ? argv[3] : NULL;
	struct bpf_program *p, *q;
	struct bpf_object *obj;
	struct bpf_map *m;
	int n = 0, i, j, err;

	if (argc < 3)
		return 2;
	if (strcmp(argv[1], "relos") == 0) {
		libbpf_set_print(print_all);
		obj = open_obj(argv[2], btf);
		if (!obj)
			return 1;
		bpf_object__for_each_map(m, obj) {
			if (bpf_map__type(m) == BPF_MAP_TYPE_STACK_TRACE &&
			    bpf_map__value_size(m) == 0)
				bpf_map__set_value_size(m, 127 * 8);
			if (bpf_map__max_entries(m) != 0)
				continue;
			if (bpf_map__type(m) == BPF_MAP_TYPE_RINGBUF ||
			    bpf_map__type(m) == BPF_MAP_TYPE_USER_RINGBUF)
				bpf_map__set_max_entries(m, sysconf(_SC_PAGESIZE));
			else if (bpf_map__type(m) != BPF_MAP_TYPE_PERF_EVENT_ARRAY)
				bpf_map__set_max_entries(m, 1);
		}
		fflush(stdout);
		err = bpf_object__load(obj);
		fflush(stdout);
		printf("LOAD %d\n", err);
		bpf_object__close(obj);
		return 0;
	}
	libbpf_set_print(print_none);
	obj = open_obj(argv[2], btf);
	if (!obj)
		return 1;
	bpf_object__for_each_program(p, obj)
		n++;
	bpf_object__close(obj);
	for (i = 0; i < n; i++) {
		obj = open_obj(argv[2], btf);
		if (!obj)
			return 1;
		j = 0;
		p = NULL;
		bpf_object__for_each_program(q, obj) {
			bpf_program__set_autoload(q, j == i);
			if (j == i)
				p = q;
			j++;
		}
		err = bpf_object__load(obj);
		printf("%s %s %d\n", bpf_program__name(p), err ? "fail" : "ok", err);
		bpf_object__close(obj);
	}
	return 0;
}
