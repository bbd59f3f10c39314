/*
 * cpuquota.c — prints what native/sys.c reads of the CPUs this process may
 * use (pw_cpus_read): "QUOTA PERIOD_NS COUNT AFFINITY DIRS", DIRS the
 * cgroup folders that set a quota joined by "|" ("-" for none).
 *
 * Built by tests/cpu_quota_test.ts beside native/sys.c, with
 * -DPW_PROC_PREFIX='"DIR"': sys.c then reads DIR/proc/self/cgroup,
 * DIR/proc/self/mountinfo and the cgroup files below DIR, a fake tree the
 * test writes for each case (cgroup v2, v1, nested quotas, a container's
 * view).  Built without the prefix it reads the real ones.
 */
#include <stdint.h>
#include <stdio.h>

#include "../sys.h"

int main(void) {
  pw_cpus c;
  pw_cpus_read(&c);
  printf("%.3f %lld %d %d ", c.quota, (long long)c.period_ns, c.count, c.affinity);
  for (int i = 0; i < c.ndirs; i++) printf("%s%s", i ? "|" : "", c.dirs[i]);
  printf("%s\n", c.ndirs ? "" : "-");
  if (c.count != pw_cpu_count()) return 1;
  pw_cpus_free(&c);
  return 0;
}
