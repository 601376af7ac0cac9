// Test helpers, one per job, shared by every Deno test: `import { ... } from "../support/mod.ts"`.

export { env, type StackEnv } from "./env.ts";
export { connect, type Sql, withSql } from "./db.ts";
export {
  addLinks,
  type BookingOptions,
  createBooking,
  ENDED_SLOT,
  insertBookings,
  meetLink,
  resetData,
} from "./data.ts";
export {
  type BookingState,
  bookingState,
  notificationLog,
  type NotificationRow,
  paidBookingsSharingALink,
  type SharedLink,
  snapshotTables,
  type TableRows,
} from "./state.ts";
export {
  callFunction,
  type CallOptions,
  functionNames,
  type FunctionResponse,
  functionUrl,
  type JsonBody,
  pendingBackgroundTasks,
  pollUntil,
  settleBackgroundWork,
} from "./http.ts";
export { asServiceRole, assignLink, callAssign } from "./assign.ts";
export {
  answer,
  deliver,
  followUp,
  type Notification,
  type PostOptions,
  postToWebhook,
  type Sample,
  sample,
  settlement,
  signed,
  statusCodeFor,
  webhookTest,
} from "./webhook.ts";
export {
  notifyFromSandbox,
  putTransaction,
  type SandboxTransaction,
  setSandboxFault,
  spawnMidtransSandbox,
  statusFieldsOf,
} from "./midtrans_sandbox.ts";
export { signJwt } from "./jwt.ts";
export { prng } from "./random.ts";
export {
  freePort,
  type RunningServer,
  type ServerExit,
  spawnDenoServer,
  spawnFunctionsServer,
  testPostgres,
} from "./server.ts";
