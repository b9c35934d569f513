
/*
 * Preloaded after gcc's libasan and libubsan by t/asan/run.sh: points
 * libubsan's reports at the file SV_UBSAN_LOG_PATH names (".PID" is
 * added).
 *
 * Both runtimes carry a copy of sanitizer_common and export its
 * __sanitizer_set_report_path(); libubsan's call to it at start-up binds
 * to libasan's, which comes first, so UBSAN_OPTIONS=log_path only moves
 * ASan's reports and UBSan's stay on stderr, which nginx points at its
 * error log, rewritten for each test block.  dlsym() on libubsan's own
 * handle reaches its own copy.
 */

#include <dlfcn.h>
#include <stdlib.h>


static void sv_ubsan_log(void) __attribute__((constructor));


static void
sv_ubsan_log(void)
{
    void        *lib;
    const char  *path;
    void       (*set_report_path)(const char *);

    path = getenv("SV_UBSAN_LOG_PATH");
    if (path == NULL) {
        return;
    }

    lib = dlopen("libubsan.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (lib == NULL) {
        return;
    }

    *(void **) &set_report_path = dlsym(lib, "__sanitizer_set_report_path");

    if (set_report_path != NULL) {
        set_report_path(path);
    }

    dlclose(lib);
}
