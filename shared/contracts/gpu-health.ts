import { z } from "@hono/zod-openapi";
import {
  DeviceHealthSummary,
  EVENT_TYPES,
  HealthEvent,
  HealthReport,
  HealthSettings,
  SETTABLE_COMPONENTS,
} from "../domain/gpu-health.ts";
import { XidDetail } from "../domain/xid-catalog.ts";
import { PageQuery, pageOf } from "./common.ts";

/** `POST /api/v1/agent/health`: GPUd's JSON for states and events (specs/gpu-health.md §4). */
export const HealthReportRequest = HealthReport.extend({}).openapi("HealthReport");

export const HealthReportAck = z
  .object({
    stored: z.boolean().openapi({ description: "false: a report collected later is already stored" }),
    summary: DeviceHealthSummary.extend({}).openapi("DeviceHealthSummaryAck"),
  })
  .openapi("HealthReportAck");

export const DeviceHealthView = z
  .object({
    deviceId: z.string(),
    summary: DeviceHealthSummary.extend({}).nullable().openapi({ description: "null: it never reported" }),
    report: HealthReport.omit({ events: true })
      .extend({ receivedAt: z.string() })
      .nullable()
      .openapi({ description: "the last report as the agent sent it (events are under /health/events)" }),
  })
  .openapi("DeviceHealth");

export const HealthEventsQuery = PageQuery.extend({
  since: z.iso
    .datetime({ offset: true, error: "must be an RFC 3339 time, e.g. 2026-12-01T10:00:00Z" })
    .optional()
    .openapi({ param: { name: "since", in: "query" }, description: "events at or after this time" }),
  component: z
    .string()
    .max(128)
    .optional()
    .openapi({ param: { name: "component", in: "query" }, example: "accelerator-nvidia-error-xid" }),
  type: z
    .enum(EVENT_TYPES)
    .optional()
    .openapi({ param: { name: "type", in: "query" } }),
});

export const HealthEventPage = pageOf(HealthEvent.extend({}).openapi("HealthEvent")).openapi(
  "HealthEventPage",
);

export const SetHealthyRequest = z
  .object({
    components: z
      .array(z.string().max(128))
      .max(16)
      .optional()
      .openapi({
        description: `the components to set healthy (default: all of ${SETTABLE_COMPONENTS.join(", ")})`,
      }),
  })
  .openapi("SetHealthyRequest");

export const HealthSettingsView = HealthSettings.extend({}).openapi("HealthSettings", {
  description:
    "placement: exclude-unhealthy (the default) skips Unhealthy GPUs, and devices with an Unhealthy component naming no GPU; ignore places regardless",
});

export const XidView = XidDetail.extend({}).openapi("Xid");
export const XidList = z.object({ items: z.array(XidView) }).openapi("XidList");
export const XidParam = z.object({
  code: z.coerce
    .number({ error: "must be a whole number" })
    .int("must be a whole number")
    .min(0)
    .max(100_000)
    .openapi({ param: { name: "code", in: "path" }, example: 79 }),
});
