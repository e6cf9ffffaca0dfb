/* zwsd — the WebSocket messaging daemon: parse options, run the supervisor.
 * Runs in the foreground (systemd starts it directly); see zwsd(8). */
#include "log.h"
#include "options.h"
#include "supervisor.h"

int
main(int argc, char **argv)
{
    static options_t opt;           /* large (paths): not on the stack */
    int rc = options_load(&opt, argc, argv);
    if (rc == OPT_EXIT)
        return 0;
    if (rc == OPT_USAGE)
        return 2;
    log_init("zwsd", opt.verbose);
    return supervisor_run(&opt);
}
