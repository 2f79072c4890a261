import type { Job } from "./job.ts";
import { jobNeeds } from "./placement.ts";
import type { ReservationType } from "./reservation.ts";
import { containerLimits } from "./resource-limits.ts";

/** The program and arguments a job runs: its exe, or its command through a shell (args after it). */
export const jobArgv = (job: Pick<Job, "exe" | "command" | "args">): string[] =>
  job.exe
    ? [job.exe, ...job.args]
    : // `"$@"` only with args: after a command ending in `done`, `fi` or `}` it would be a syntax error.
      ["/bin/sh", "-c", job.args.length ? `${job.command} "$@"` : `${job.command}`, "sh", ...job.args];

/** A lab's size as Docker limits (`--cpus`, `--memory` in MiB): what placement holds for it. */
function labLimits(job: Job): { cpus?: number; memoryMiB?: number } {
  const { cpus, memoryGiB } = jobNeeds(job);
  return { ...(cpus ? { cpus } : {}), ...(memoryGiB ? { memoryMiB: Math.round(memoryGiB * 1024) } : {}) };
}

/**
 * The reservation that carries a placed job on its device: a container when the job names an image, a host
 * process otherwise. `command` is a shell command (run by /bin/sh with the job's args as "$@"); `exe` is run
 * directly with its args (jobs.md §1, after the Launcher).
 */
export function reservationForJob(
  job: Job,
  gpus: number[],
  /** The job's secrets, sealed to the device for this reservation. */
  secrets?: object,
): { type: ReservationType; data: unknown; duration: number } {
  const env = Object.fromEntries(job.environment.map((e) => [e.name, e.value]));
  const argv = jobArgv(job);
  const lab = job.lab
    ? {
        lab: {
          port: job.lab.port,
          readinessPath: job.lab.readinessPath,
          readinessTimeoutSeconds: job.lab.readinessTimeoutSeconds,
        },
        stopGracePeriodSeconds: job.lab.graceSeconds,
      }
    : {};
  if (job.container) {
    const c = job.container;
    return {
      type: "container",
      duration: job.maxDuration,
      data: {
        image: c.image,
        // A lab may run its image's own command (it has neither).
        ...(job.exe || job.command ? { command: argv } : {}),
        env,
        gpus,
        mounts: job.mounts.map((m) => ({
          source: (m.mountSource.source as { path: string }).path,
          target: m.mountPath,
          readOnly: m.readOnly ?? false,
        })),
        ports: job.exposedPorts.map((p) => ({
          containerPort: p.targetPort,
          ...(p.publishedPort === undefined ? {} : { hostPort: p.publishedPort }),
          protocol: p.protocol === "udp" ? "udp" : "tcp",
        })),
        ...(job.workingDirectory ? { workingDirectory: job.workingDirectory } : {}),
        ...lab,
        // A lab's size is its profile's (what placement holds); another job's, its resource limits (§4).
        ...(job.lab ? labLimits(job) : containerLimits(job.resourceLimits)),
        ...(c.runAsUserId === undefined
          ? {}
          : { user: `${c.runAsUserId}${c.runAsGroupId === undefined ? "" : `:${c.runAsGroupId}`}` }),
        ...secrets,
      },
    };
  }
  return {
    type: "process",
    duration: job.maxDuration,
    data: {
      argv,
      env,
      gpus,
      ...(job.workingDirectory ? { workingDirectory: job.workingDirectory } : {}),
      ...(job.stdin === undefined ? {} : { stdin: job.stdin }),
      ...lab,
      ...secrets,
    },
  };
}
