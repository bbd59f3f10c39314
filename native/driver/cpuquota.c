/*
 * cpuquota.c — prints what native/sys.c reads of the CPUs this process may
 * use: "QUOTA PERIOD_NS COUNT AFFINITY DIR" (pw_cpu_quota with its period,
 * pw_cpu_count, pw_cpu_affinity, and the cgroup folder that sets the
 * quota, "-" for none).
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
  int64_t period = 0;
  char dir[4096] = "";
  double quota = pw_cpu_quota(&period, dir, sizeof dir);
  printf("%.3f %lld %d %d %s\n", quota, (long long)period, pw_cpu_count(), pw_cpu_affinity(),
         dir[0] ? dir : "-");
  return 0;
}
