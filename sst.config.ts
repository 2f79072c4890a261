/// <reference path="./.sst/platform/config.d.ts" />

export default $config({
  app(input) {
    // Stages whose resources a deploy never deletes (retain) and `sst remove` refuses to touch (protect):
    // BERTH_PROTECTED_STAGES, comma-separated, default "production,prod". Their table also has deletion
    // protection (infra/storage.ts); every stage's table has point-in-time recovery.
    const protectedStages = (process.env.BERTH_PROTECTED_STAGES ?? "production,prod")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    const isProtected = protectedStages.includes(input?.stage ?? "");
    return {
      name: "berth",
      home: "aws",
      removal: isProtected ? "retain" : "remove",
      protect: isProtected,
    };
  },
  async run() {
    const infra = await import("./infra");
    return infra.outputs;
  },
});
