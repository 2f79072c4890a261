import type { JobNetworkView } from "../../contracts/jobs-network.ts";
import { BerthError, ErrorCode, unavailable } from "../../domain/errors.ts";
import { type Job, JobStatus } from "../../domain/job.ts";
import { distinctAddresses, endpointsOf, type TaskNetwork } from "../../domain/job-network.ts";
import type { UserPrincipal } from "../../domain/principal.ts";
import type { JobDeps } from "../deps.ts";
import { visibleJob } from "./jobs.ts";

/** 409 JobNotRunning with the Launcher SDK's text. */
const notRunning = (job: Job) =>
  new BerthError(ErrorCode.JobNotRunning, "The job is not currently running", {
    status: job.status,
    ...(job.host ? { host: job.host } : {}),
  });

/**
 * `GET /api/v1/jobs/{id}/network` (specs/launcher-extras.md §2): where a running (or suspended) job can be
 * reached, `{host, ipAddresses, endpoints?}` as the Launcher answers, plus `berth` (which target, whether
 * something is missing and what). 404 JobNotFound as every job route (another user's job to a member key
 * too); 409 JobNotRunning when it is Pending or final.
 */
export async function jobNetwork(deps: JobDeps, user: UserPrincipal, id: string): Promise<JobNetworkView> {
  const job = await visibleJob(deps, user, id);
  if (job.status !== JobStatus.Running && job.status !== JobStatus.Suspended) throw notRunning(job);
  if (job.cloudReservationId) return cloudNetwork(deps, job, job.cloudReservationId);
  if (!job.deviceId || !job.reservationId) throw notRunning(job);
  const [device, r] = await Promise.all([
    deps.repos.devices.get(job.deviceId),
    deps.repos.reservations.get(job.deviceId, job.reservationId),
  ]);
  const partial = (missing: string) => ({ target: "fleet" as const, partial: true, missing });
  if (!device) return { host: job.host ?? "", ipAddresses: [], berth: partial("its device was deleted") };
  const host = device.info.hostname || device.name;
  const deviceIPs = distinctAddresses([device.info.privateIP, device.info.publicIP]);
  if (r?.type !== "container")
    return { host, ipAddresses: deviceIPs, berth: { target: "fleet", partial: false } };
  if (!r.network)
    return {
      host,
      ipAddresses: deviceIPs,
      berth: partial(
        "its agent has not reported the container's network (an agent before this version, or Docker did not answer)",
      ),
    };
  const endpoints = endpointsOf(device.info.privateIP ?? device.info.publicIP ?? host, r.network.ports);
  return {
    host,
    ipAddresses: distinctAddresses([...deviceIPs, ...r.network.containerIPs]),
    ...(endpoints.length > 0 ? { endpoints } : {}),
    berth: { target: "fleet", partial: false, ports: r.network.ports },
  };
}

/**
 * A cloud job's network: resolved through its launcher once its task runs, then kept on the cloud
 * reservation for that task (a request for another attempt's task resolves it again).
 */
async function cloudNetwork(deps: JobDeps, job: Job, reservationId: string): Promise<JobNetworkView> {
  const r = await deps.repos.cloudReservations.get(reservationId);
  const target = r?.launcher ?? job.cloudLauncher ?? "ecs";
  const unknown = (missing: string): JobNetworkView => ({
    host: job.host ?? "",
    ipAddresses: [],
    berth: { target, partial: true, missing },
  });
  if (!r?.task) return unknown("its task is not known yet");
  let net: TaskNetwork | undefined = r.network?.taskId === r.task.id ? r.network : undefined;
  if (!net) {
    const launcher = deps.cloud?.launchers[r.task.launcher];
    if (!launcher?.network) return unknown(`${r.task.launcher.toUpperCase()} cannot say where its tasks run`);
    const found = await launcher.network(r.task).catch((err: Error) => {
      throw unavailable(
        `${r.task!.launcher.toUpperCase()} did not say where the task runs (${err.message}); try again`,
      );
    });
    if (!found)
      return unknown("the launcher cannot say yet where the task runs (not scheduled, or no IP yet)");
    net = { taskId: r.task.id, ...found };
    // Kept with the reservation's own time (its place in the reconciler's index stays); a write that loses
    // to the worker only means the next request resolves it again.
    await deps.repos.cloudReservations.save(r, { network: net }, r.updatedAt).catch(() => undefined);
  }
  return {
    host: net.host ?? job.host ?? "",
    ipAddresses: net.ipAddresses,
    ...(net.endpoints.length > 0 ? { endpoints: net.endpoints } : {}),
    berth: {
      target,
      partial: net.missing !== undefined,
      ...(net.missing ? { missing: net.missing } : {}),
      ...(net.ports.length > 0 ? { ports: net.ports } : {}),
    },
  };
}
