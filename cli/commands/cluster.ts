import type { Command } from "commander";
import type { ClusterConfigView, ClusterInfoView } from "../../shared/contracts/cluster.ts";
import { collect } from "../args.ts";
import { type GlobalOptions, outputFormat, resolveClient } from "../context.ts";
import { CliError } from "../errors.ts";
import { printObject } from "../output.ts";

/** `--allow-unknown-images=false` and friends: true or false, nothing else. */
function bool(value: string, flag: string): boolean {
  if (/^(true|yes|1)$/i.test(value)) return true;
  if (/^(false|no|0)$/i.test(value)) return false;
  throw new CliError(`${flag} ${value}: use true or false`, 2);
}

/** A cluster info as people read it: one line per Launcher key, the extras summarised. */
function infoLines(i: ClusterInfoView): Record<string, unknown> {
  return {
    supportsContainers: i.supportsContainers,
    queues: i.queues.join(", ") || "(any node group)",
    placementConstraints: i.placementConstraints.map((c) => `${c.name}=${c.value ?? ""}`).join(", ") || "-",
    resourceLimits: i.resourceLimits.map((l) => `${l.type}≤${l.maxValue ?? "?"}`).join(", "),
    images: i.images.join(", ") || "-",
    defaultImage: i.defaultImage,
    allowUnknownImages: i.allowUnknownImages,
    resourceProfiles: i.resourceProfiles.map((p) => p.name).join(", ") || "-",
    gpuTypes:
      i.berth.gpuTypes.map((g) => `${g.product}: ${g.free}/${g.gpus} free on ${g.devices}`).join("; ") || "-",
    cloudGpuFamilies: i.berth.cloudGpuFamilies.map((f) => `${f.name} (${f.gpuType})`).join(", ") || "-",
    generatedAt: i.berth.generatedAt,
  };
}

/** `berth cluster info` and `berth cluster config get|set` (specs/launcher-extras.md §3, §5). */
export function clusterCommand(program: Command) {
  const cluster = program
    .command("cluster")
    .description("cluster info (what the Launcher asks of Berth) and the workspace's image list");
  const globals = () => program.opts<GlobalOptions>();
  const client = () => resolveClient(globals(), process.env);
  const format = () => outputFormat(globals());

  cluster
    .command("info")
    .description(
      "containers, placement constraints, queues, limits, images and profiles (up to a minute old)",
    )
    .action(async () => {
      const info = await client().request<ClusterInfoView>("GET", "/cluster-info");
      printObject(format(), format() === "json" ? info : infoLines(info));
    });

  const config = cluster.command("config").description("the workspace's images (admin)");
  config
    .command("get")
    .description("print the cluster config")
    .action(async () => {
      printObject(format(), await client().request<ClusterConfigView>("GET", "/cluster-config"));
    });
  config
    .command("set")
    .description("change the cluster config: the flags given replace those fields, the rest stays")
    .option("--image <image>", "an allowed image (repeatable; replaces the list)", collect)
    .option("--no-images", "empty the image list")
    .option("--default-image <image>", 'the image the Launcher preselects ("" for none)')
    .option("--allow-unknown-images <bool>", "false: jobs may only name a listed image")
    .action(
      async (o: {
        image?: string[];
        images?: boolean;
        defaultImage?: string;
        allowUnknownImages?: string;
      }) => {
        const c = client();
        const current = await c.request<ClusterConfigView>("GET", "/cluster-config");
        const body = {
          images: o.images === false ? [] : (o.image ?? current.images),
          // --default-image "" takes it away.
          defaultImage: o.defaultImage === "" ? undefined : (o.defaultImage ?? current.defaultImage),
          allowUnknownImages:
            o.allowUnknownImages === undefined
              ? current.allowUnknownImages
              : bool(o.allowUnknownImages, "--allow-unknown-images"),
          expectedRevision: current.revision,
        };
        printObject(format(), await c.request<ClusterConfigView>("PUT", "/cluster-config", { body }));
      },
    );
}
