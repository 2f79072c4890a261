import { z } from "zod";
import { EVENT_TYPES, type EventType, REPAIR_ACTIONS, type RepairAction } from "./gpu-health.ts";

/**
 * NVIDIA's Xid catalogue as GPUd bundles it (specs/gpu-health.md §3), served by `GET /api/v1/health/xids` and
 * used by the agent to evolve `accelerator-nvidia-error-xid`.
 *
 * Copied from leptonai/gpud@4a8de33a3f02e207f39e9023d67125592d599731
 * components/accelerator/nvidia/xid/xid.go (`details`: description, `EventType`, `SuggestedActionsByGPUd`),
 * components/accelerator/nvidia/xid/catalog_generated.go (`Mnemonic`) and
 * components/accelerator/nvidia/xid/threshold.go (`DefaultRebootThreshold` 2, Xid 94 overridden to 1000).
 * GPUd's NVLink sub-code decoding for 144-150 (intrinfo bits 20-25) is not copied: those read as their base
 * entry. 172 codes: 122 Warning, 43 Fatal, 7 Info.
 */

/** Reboots an Xid may be followed by before `REBOOT_SYSTEM` becomes `HARDWARE_INSPECTION` (GPUd's default). */
export const DEFAULT_XID_REBOOT_THRESHOLD = 2;

/** GPUd's per-code overrides: Xid 94 is a contained, application-specific ECC error. */
const REBOOT_THRESHOLDS: Readonly<Record<number, number>> = { 94: 1000 };

/** One catalogue entry, as the API serves it. */
export const XidDetail = z.object({
  code: z.number().int().min(0),
  /** NVIDIA's mnemonic (`ROBUST_CHANNEL_GPU_HAS_FALLEN_OFF_THE_BUS`), when its catalogue has one. */
  mnemonic: z.string().optional(),
  description: z.string(),
  /** `Fatal` turns the component `Unhealthy`, `Critical` `Degraded`; anything else leaves it `Healthy`. */
  type: z.enum(EVENT_TYPES),
  /** GPUd's suggested repair actions; the first is the one that counts. */
  repairActions: z.array(z.enum(REPAIR_ACTIONS)),
  /** Reboots after which a `REBOOT_SYSTEM` action escalates to `HARDWARE_INSPECTION`. */
  rebootThreshold: z.number().int().min(1),
});
export type XidDetail = z.infer<typeof XidDetail>;

// code|type|repair actions|mnemonic|description, generated from the files above (one line per `details` entry).
const TABLE = `
1|Warning||ROBUST_CHANNEL_FIFO_ERROR_FIFO_METHOD|Invalid or corrupted push buffer stream
2|Warning||ROBUST_CHANNEL_FIFO_ERROR_SW_METHOD|Invalid or corrupted push buffer stream
3|Warning||ROBUST_CHANNEL_FIFO_ERROR_UNK_METHOD|Invalid or corrupted push buffer stream
4|Warning||ROBUST_CHANNEL_FIFO_ERROR_CHANNEL_BUSY|Invalid or corrupted push buffer stream
5|Warning||ROBUST_CHANNEL_FIFO_ERROR_RUNOUT_OVERFLOW|Unused
6|Warning||ROBUST_CHANNEL_FIFO_ERROR_PARSE_ERR|Invalid or corrupted push buffer stream
7|Warning||ROBUST_CHANNEL_FIFO_ERROR_PTE_ERR|Invalid or corrupted push buffer address
8|Warning||ROBUST_CHANNEL_FIFO_ERROR_IDLE_TIMEOUT|GPU stopped processing
9|Fatal|REBOOT_SYSTEM|ROBUST_CHANNEL_GR_ERROR_INSTANCE|Driver error programming GPU
10|Warning||ROBUST_CHANNEL_GR_ERROR_SINGLE_STEP|Unused
11|Warning||ROBUST_CHANNEL_GR_ERROR_MISSING_HW|Invalid or corrupted push buffer stream
12|Fatal|REBOOT_SYSTEM|ROBUST_CHANNEL_GR_ERROR_SW_METHOD|Driver error handling GPU exception
13|Warning|CHECK_USER_APP_AND_GPU|ROBUST_CHANNEL_GR_EXCEPTION / ROBUST_CHANNEL_GR_ERROR_SW_NOTIFY|Graphics Engine Exception
14|Warning||ROBUST_CHANNEL_FAKE_ERROR|Unused
15|Warning||ROBUST_CHANNEL_SCANLINE_TIMEOUT|Unused
16|Fatal|REBOOT_SYSTEM|ROBUST_CHANNEL_VBLANK_CALLBACK_TIMEOUT|Display engine hung
17|Warning||ROBUST_CHANNEL_PARAMETER_ERROR|Unused
18|Fatal|REBOOT_SYSTEM|ROBUST_CHANNEL_BUS_MASTER_TIMEOUT_ERROR|Bus mastering disabled in PCI Config Space
19|Fatal|REBOOT_SYSTEM|ROBUST_CHANNEL_DISP_MISSED_NOTIFIER|Display Engine error
20|Warning||ROBUST_CHANNEL_MPEG_ERROR_SW_METHOD|Invalid or corrupted Mpeg push buffer
21|Warning||ROBUST_CHANNEL_ME_ERROR_SW_METHOD|Invalid or corrupted Motion Estimation push buffer
22|Warning||ROBUST_CHANNEL_VP_ERROR_SW_METHOD|Invalid or corrupted Video Processor push buffer
23|Warning||ROBUST_CHANNEL_RC_LOGGING_ENABLED|Unused
24|Warning||ROBUST_CHANNEL_GR_SEMAPHORE_TIMEOUT|GPU semaphore timeout
25|Warning||ROBUST_CHANNEL_GR_ILLEGAL_NOTIFY|Invalid or illegal push buffer stream
26|Fatal|REBOOT_SYSTEM|ROBUST_CHANNEL_FIFO_ERROR_FBISTATE_TIMEOUT|Framebuffer timeout
27|Fatal|REBOOT_SYSTEM|ROBUST_CHANNEL_VP_ERROR|Video processor exception
28|Fatal|REBOOT_SYSTEM|ROBUST_CHANNEL_VP2_ERROR|Video processor exception
29|Fatal|REBOOT_SYSTEM|ROBUST_CHANNEL_BSP_ERROR|Video processor exception
30|Fatal|REBOOT_SYSTEM|ROBUST_CHANNEL_BAD_ADDR_ACCESS|GPU semaphore access error
31|Warning|CHECK_USER_APP_AND_GPU,HARDWARE_INSPECTION|ROBUST_CHANNEL_FIFO_ERROR_MMU_ERR_FLT|GPU memory page fault
32|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|ROBUST_CHANNEL_PBDMA_ERROR|Invalid or corrupted push buffer stream
33|Fatal|REBOOT_SYSTEM|ROBUST_CHANNEL_SEC_ERROR|Internal micro-controller error
34|Fatal|REBOOT_SYSTEM|ROBUST_CHANNEL_MSVLD_ERROR|Video processor exception
35|Fatal|REBOOT_SYSTEM|ROBUST_CHANNEL_MSPDEC_ERROR|Video processor exception
36|Fatal|REBOOT_SYSTEM|ROBUST_CHANNEL_MSPPP_ERROR|Video processor exception
37|Warning||ROBUST_CHANNEL_FECS_ERR_UNIMP_FIRMWARE_METHOD|Driver firmware error
38|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|ROBUST_CHANNEL_FECS_ERR_WATCHDOG_TIMEOUT|Driver firmware error
39|Warning||ROBUST_CHANNEL_CE0_ERROR|Unused
40|Warning||ROBUST_CHANNEL_CE1_ERROR|Unused
41|Warning||ROBUST_CHANNEL_CE2_ERROR|Unused
42|Fatal|REBOOT_SYSTEM|ROBUST_CHANNEL_VIC_ERROR|Video processor exception
43|Warning|CHECK_USER_APP_AND_GPU|ROBUST_CHANNEL_RESETCHANNEL_VERIF_ERROR|GPU stopped processing
44|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|ROBUST_CHANNEL_GR_FAULT_DURING_CTXSW|Graphics Engine fault during context switch
45|Warning|IGNORE_NO_ACTION_REQUIRED|ROBUST_CHANNEL_PREEMPTIVE_REMOVAL|Preemptive cleanup, due to previous errors – Most likely to see when running multiple cuda applications and hitting a DBE.
46|Fatal|REBOOT_SYSTEM|ROBUST_CHANNEL_GPU_TIMEOUT_ERROR|GPU stopped processing
47|Fatal|REBOOT_SYSTEM|ROBUST_CHANNEL_NVENC0_ERROR|Video processor exception
48|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|ROBUST_CHANNEL_GPU_ECC_DBE|Double Bit ECC Error
49|Warning||SILENT_RUNNING_CONSTANT_LEVEL_SET_BY_REGISTRY|Unused
50|Warning||SILENT_RUNNING_LEVEL_TRANSITION_DUE_TO_RC_ERROR|Unused
51|Warning||SILENT_RUNNING_STRESS_TEST_FAILURE|Unused
52|Warning||SILENT_RUNNING_LEVEL_TRANS_DUE_TO_TEMP_RISE|Unused
53|Warning||SILENT_RUNNING_TEMP_REDUCED_CLOCKING|Unused
54|Warning||SILENT_RUNNING_PWR_REDUCED_CLOCKING|Auxiliary power is not connected to the GPU board
55|Warning||SILENT_RUNNING_TEMPERATURE_READ_ERROR|Unused
56|Warning||DISPLAY_CHANNEL_EXCEPTION|Display Engine error
57|Warning||FB_LINK_TRAINING_FAILURE_ERROR|Error programming video memory interface
58|Warning||FB_MEMORY_ERROR|Unstable video memory interface detected
59|Fatal|REBOOT_SYSTEM|PMU_ERROR|Internal micro-controller error (older drivers)
60|Fatal|REBOOT_SYSTEM|ROBUST_CHANNEL_SEC2_ERROR|Video processor exception
61|Fatal|REBOOT_SYSTEM|PMU_BREAKPOINT|Internal micro-controller breakpoint/warning (newer drivers)
62|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|PMU_HALT_ERROR|Internal micro-controller halt (newer drivers)
63|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|INFOROM_DRAM_RETIREMENT_EVENT|ECC page retirement or row remapping recording event
64|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|INFOROM_DRAM_RETIREMENT_FAILURE|ECC page retirement or row remapper recording failure
65|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|ROBUST_CHANNEL_NVENC1_ERROR|Video processor exception
66|Warning||ROBUST_CHANNEL_FECS_ERR_REG_ACCESS_VIOLATION|Illegal access by driver
67|Warning||ROBUST_CHANNEL_FECS_ERR_VERIF_VIOLATION|Illegal access by driver
68|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|ROBUST_CHANNEL_NVDEC0_ERROR|NVDEC0 Exception
69|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|ROBUST_CHANNEL_GR_CLASS_ERROR|Graphics Engine class error
70|Warning||ROBUST_CHANNEL_CE3_ERROR|CE3: Unknown Error
71|Warning||ROBUST_CHANNEL_CE4_ERROR|CE4: Unknown Error
72|Warning||ROBUST_CHANNEL_CE5_ERROR|CE5: Unknown Error
73|Warning||ROBUST_CHANNEL_NVENC2_ERROR|NVENC2 Error
74|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|NVLINK_ERROR|NVLINK Error
75|Warning||ROBUST_CHANNEL_CE6_ERROR|CE6: Unknown Error
76|Warning||ROBUST_CHANNEL_CE7_ERROR|CE7: Unknown Error
77|Warning||ROBUST_CHANNEL_CE8_ERROR|CE8: Unknown Error
78|Fatal|REBOOT_SYSTEM|VGPU_START_ERROR|vGPU Start Error
79|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|ROBUST_CHANNEL_GPU_HAS_FALLEN_OFF_THE_BUS|GPU has fallen off the bus
80|Warning||PBDMA_PUSHBUFFER_CRC_MISMATCH|Corrupted data sent to GPU
81|Fatal|HARDWARE_INSPECTION|ROBUST_CHANNEL_VGA_SUBSYSTEM_ERROR|VGA Subsystem Error
82|Warning||ROBUST_CHANNEL_NVJPG0_ERROR|NVJPG0 Error
83|Warning||ROBUST_CHANNEL_NVDEC1_ERROR|NVDEC1 Error
84|Warning||ROBUST_CHANNEL_NVDEC2_ERROR|NVDEC2 Error
85|Warning||ROBUST_CHANNEL_CE9_ERROR|CE9: Unknown Error
86|Warning||ROBUST_CHANNEL_OFA0_ERROR|OFA Exception
87|Warning||NVTELEMETRY_DRIVER_REPORT|Reserved
88|Warning||ROBUST_CHANNEL_NVDEC3_ERROR|NVDEC3 Error
89|Warning||ROBUST_CHANNEL_NVDEC4_ERROR|NVDEC4 Error
90|Warning||LTC_ERROR|Reserved
91|Warning||RESERVED_XID|Reserved
92|Warning|IGNORE_NO_ACTION_REQUIRED|EXCESSIVE_SBE_INTERRUPTS|High single-bit ECC error rate
93|Warning||INFOROM_ERASE_LIMIT_EXCEEDED|Non-fatal violation of provisioned InfoROM wear limit
94|Fatal|REBOOT_SYSTEM,IGNORE_NO_ACTION_REQUIRED|ROBUST_CHANNEL_CONTAINED_ERROR|Contained ECC error
95|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|ROBUST_CHANNEL_UNCONTAINED_ERROR|Uncontained ECC error
96|Warning||ROBUST_CHANNEL_NVDEC5_ERROR|NVDEC5 Error
97|Warning||ROBUST_CHANNEL_NVDEC6_ERROR|NVDEC6 Error
98|Warning||ROBUST_CHANNEL_NVDEC7_ERROR|NVDEC7 Error
99|Warning||ROBUST_CHANNEL_NVJPG1_ERROR|NVJPG1 Error
100|Warning||ROBUST_CHANNEL_NVJPG2_ERROR|NVJPG2 Error
101|Warning||ROBUST_CHANNEL_NVJPG3_ERROR|NVJPG3 Error
102|Warning||ROBUST_CHANNEL_NVJPG4_ERROR|NVJPG4 Error
103|Warning||ROBUST_CHANNEL_NVJPG5_ERROR|NVJPG5 Error
104|Warning||ROBUST_CHANNEL_NVJPG6_ERROR|NVJPG6 Error
105|Warning||ROBUST_CHANNEL_NVJPG7_ERROR|NVJPG7 Error
106|Warning||SMBPBI_TEST_MESSAGE|SMBPBI Test Message
107|Warning||SMBPBI_TEST_MESSAGE_SILENT|SMBPBI Test Message Silent
108|Warning||NVLINK_REMOTE_TRANSLATION_ERROR|Reserved
109|Warning||ROBUST_CHANNEL_CTXSW_TIMEOUT_ERROR|Context Switch Timeout Error
110|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|SEC_FAULT_ERROR|Security Fault Error
111|Warning||BUNDLE_ERROR_EVENT|Display Bundle Error Event
112|Warning||DISP_SUPERVISOR_ERROR|Display Supervisor Error
113|Warning||DP_LT_FAILURE|DP Link Training Erro
114|Warning||HEAD_RG_UNDERFLOW|Display Pipeline Underflow Error
115|Warning||CORE_CHANNEL_REGS|Display Core Channel Error
116|Warning||WINDOW_CHANNEL_REGS|Display Window Channel Error
117|Warning||CURSOR_CHANNEL_REGS|Display Cursor Channel Error
118|Warning||HEAD_REGS|Display Pixel Pipeline Error
119|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|GSP_RPC_TIMEOUT|GSP RPC Timeout
120|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|GSP_ERROR|GSP Error
121|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|C2C_ERROR|C2C Link Error
122|Warning||SPI_PMU_RPC_READ_FAIL|SPI PMU RPC Read Failure
123|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|SPI_PMU_RPC_WRITE_FAIL|SPI PMU RPC Write Failure
124|Warning||SPI_PMU_RPC_ERASE_FAIL|SPI PMU RPC Erase Failure
125|Warning||INFOROM_FS_ERROR|Inforom FS Failure
126|Warning||ROBUST_CHANNEL_CE10_ERROR|Reserved
127|Warning||ROBUST_CHANNEL_CE11_ERROR|Reserved
128|Warning||ROBUST_CHANNEL_CE12_ERROR|Reserved
129|Warning||ROBUST_CHANNEL_CE13_ERROR|Reserved
130|Warning||ROBUST_CHANNEL_CE14_ERROR|Reserved
131|Warning||ROBUST_CHANNEL_CE15_ERROR|Reserved
132|Warning||ROBUST_CHANNEL_CE16_ERROR|Reserved
134|Warning||ROBUST_CHANNEL_CE18_ERROR|Reserved
135|Warning||ROBUST_CHANNEL_CE19_ERROR|Reserved
136|Warning||ALI_TRAINING_FAIL|Reserved
137|Warning|CHECK_USER_APP_AND_GPU|NVLINK_PRIV_ERR|NVLink FLA privilege error
138|Warning||ROBUST_CHANNEL_DLA_ERROR|Reserved
139|Warning||ROBUST_CHANNEL_OFA1_ERROR|Reserved
140|Fatal|REBOOT_SYSTEM,HARDWARE_INSPECTION|UNRECOVERABLE_ECC_ERROR_ESCAPE|Unrecovered ECC Error
141|Warning||ROBUST_CHANNEL_FAST_PATH_ERROR|Reserved
142|Warning||ROBUST_CHANNEL_NVENC3_ERROR|Unrecovered ECC Error
143|Fatal|HARDWARE_INSPECTION|GPU_INIT_ERROR|GPU Initialization Failure
144|Warning|REBOOT_SYSTEM|NVLINK_SAW_ERROR|NVLINK: SAW Error
145|Warning|REBOOT_SYSTEM|NVLINK_RLW_ERROR|NVLINK: RLW Error
146|Warning|REBOOT_SYSTEM|NVLINK_TLW_ERROR|NVLINK: TLW Error
147|Warning|REBOOT_SYSTEM|NVLINK_TREX_ERROR|NVLINK: TREX Error
148|Warning|REBOOT_SYSTEM|NVLINK_NVLPW_CTRL_ERROR|NVLINK: NVLPW_CTRL Error
149|Warning|REBOOT_SYSTEM|NVLINK_NETIR_ERROR|NVLINK: NETIR Error
150|Warning|REBOOT_SYSTEM|NVLINK_MSE_ERROR|NVLINK: MSE Error
151|Warning|REBOOT_SYSTEM|ROBUST_CHANNEL_KEY_ROTATION_ERROR|Key rotation Error
152|Info||ROBUST_CHANNEL_DLA_SMMU_ERROR|DLA SMMU Error
153|Info||ROBUST_CHANNEL_DLA_TIMEOUT|DLA timeout Error
154|Warning||GPU_RECOVERY_ACTION_CHANGED|GPU Recovery Action Changed
155|Warning|REBOOT_SYSTEM|NVLINK_SW_DEFINED_ERROR|NVLINK: SW Defined Error
156|Warning|REBOOT_SYSTEM|RESOURCE_RETIREMENT_EVENT|Resource Retirement Event
157|Info||RESOURCE_RETIREMENT_FAILURE|Resource Retirement Failure
158|Warning|REBOOT_SYSTEM|GPU_FATAL_TIMEOUT|GPU Fatal Timeout
159|Warning||ROBUST_CHANNEL_CHI_NON_DATA_ERROR|CHI Non-Data Error
160|Warning||CHANNEL_RETIREMENT_EVENT|Channel Retirement Event
161|Info||CHANNEL_RETIREMENT_FAILURE|Channel Retirement Failure
162|Info||PSHC_REENGAGED|Power Smoothing HW Circuitry capability reengaged
163|Warning|REBOOT_SYSTEM|PSHC_DISENGAGED|Power Smoothing HW Circuitry capability disengaged
164|Info||PSHC_LOW_LIFETIME|Power Smoothing HW Circuitry low lifetime reached
165|Info||PSHC_ZERO_LIFETIME|Power Smoothing HW Circuitry lifetime exhausted
166|Warning|REBOOT_SYSTEM|NVLINK_SECURE_CRYPTO_ERR|CC traffic seen prior to link properly being configured for encrypted traffic
167|Warning|REBOOT_SYSTEM|PCIE_FATAL_TIMEOUT|PCIE_FATAL_TIMEOUT
168|Warning||REDUCED_GPU_MEMORY_CAPACITY|Errors found in WPR (write protected region)
169|Warning|REBOOT_SYSTEM|SEC2_HALT_ERROR|Internal micro-controller halt
170|Warning|CHECK_USER_APP_AND_GPU|NVLINK_SECURE_OTHER|Interrupt seen in CC mode
171|Warning||UNCORRECTABLE_DRAM_ERROR|Additional to Xid 48 providing more details on particulars of fault to differentiate DRAM/SRAM
172|Warning|REBOOT_SYSTEM|UNCORRECTABLE_SRAM_ERROR|Additional to Xid 48 providing more details on particulars of fault to differentiate DRAM/SRAM
173|Warning|REBOOT_SYSTEM||C2C Fatal Link Failure
`;

const parseRow = (row: string): XidDetail => {
  const [code, type, actions, mnemonic, description] = row.split("|");
  return {
    code: Number(code),
    ...(mnemonic ? { mnemonic } : {}),
    description: description ?? "",
    type: type as EventType,
    repairActions: actions ? (actions.split(",") as RepairAction[]) : [],
    rebootThreshold: REBOOT_THRESHOLDS[Number(code)] ?? DEFAULT_XID_REBOOT_THRESHOLD,
  };
};

/** Every catalogued Xid, sorted by code. */
export const XID_CATALOG: readonly XidDetail[] = Object.freeze(
  TABLE.trim()
    .split("\n")
    .map(parseRow)
    .sort((a, b) => a.code - b.code),
);

const BY_CODE = new Map(XID_CATALOG.map((d) => [d.code, d]));

/** The catalogue entry of `code`, or undefined for a code GPUd does not list. */
export const xidDetail = (code: number): XidDetail | undefined => BY_CODE.get(code);

/**
 * How the agent treats `code`: its catalogue entry, or for an unknown code a `Warning` with no actions, so
 * an unlisted Xid never takes a GPU away (NVIDIA/k8s-device-plugin#234) **[inferred]**.
 */
export const xidTreatment = (code: number): XidDetail =>
  xidDetail(code) ?? {
    code,
    description: "unknown Xid",
    type: "Warning",
    repairActions: [],
    rebootThreshold: DEFAULT_XID_REBOOT_THRESHOLD,
  };
