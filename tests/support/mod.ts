// Test helpers shared by every Deno test: `import { env, connect, callFunction } from "./support/mod.ts"`.

export { env, type StackEnv } from "./env.ts";
export { connect, type Sql, withSql } from "./db.ts";
export {
  callFunction,
  type CallOptions,
  functionNames,
  type FunctionResponse,
  functionUrl,
  settleBackgroundWork,
} from "./http.ts";
export {
  freePort,
  type RunningServer,
  type ServerExit,
  spawnFunctionsServer,
  testPostgres,
} from "./server.ts";
