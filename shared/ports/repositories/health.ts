import type {
  DeviceHealthSummary,
  HealthEvent,
  HealthReport,
  HealthSettings,
} from "../../domain/gpu-health.ts";
import type { Page, PageRequest } from "../pagination.ts";

/** A device's last health report as stored (specs/gpu-health.md §5). */
export interface StoredHealth {
  deviceId: string;
  report: HealthReport;
  receivedAt: string;
}

export interface HealthEventFilter {
  /** Only events at or after this time. */
  since?: string;
  component?: string;
  type?: HealthEvent["type"];
}

/**
 * GPU health of devices: the last report (`DEVICE#<id>`/`HEALTH`), its summary on the device item, and
 * the events (`DEVICE#<id>`/`HEVT#<time>#<id>`, kept 30 days).
 */
export interface HealthRepository {
  get(deviceId: string): Promise<StoredHealth | undefined>;
  /**
   * Stores the report and the device's summary in one transaction, only if the stored report was collected
   * before this one; false when a newer one is stored (or the device is gone).
   */
  put(stored: StoredHealth, summary: DeviceHealthSummary): Promise<boolean>;
  /** Adds events; one already stored (same time and id) is written over with the same content. */
  addEvents(deviceId: string, events: HealthEvent[]): Promise<void>;
  /** Events, newest first. */
  events(deviceId: string, filter: HealthEventFilter, page: PageRequest): Promise<Page<HealthEvent>>;
  /** The workspace's health settings (`WS#<ws>`/`HEALTHSETTINGS`); undefined: never set. */
  settings(workspaceId: string): Promise<HealthSettings | undefined>;
  putSettings(workspaceId: string, settings: HealthSettings): Promise<void>;
}
