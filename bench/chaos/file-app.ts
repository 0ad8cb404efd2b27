/**
 * The chaos app over a FileStore, as a child process the FileStore scenario SIGKILLs mid-write:
 *   node --import tsx bench/chaos/file-app.ts <dir> <port>
 * Prints "ready" once listening.
 */
import { SessionManager } from "../../src/core/manager.js";
import { FileStore } from "../../src/stores/file.js";
import { chaosApp, listenOn } from "./harness.js";

const [dir, port] = process.argv.slice(2);
const manager = new SessionManager({ store: new FileStore({ dir: dir! }), storeTimeout: "2s", gcInterval: 0 });
await listenOn(chaosApp(manager), Number(port));
process.stdout.write("ready\n");
