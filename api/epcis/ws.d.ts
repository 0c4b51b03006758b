/**
 * The part of the `ws` package (8.x) the EPCIS WebSocket stream uses. `ws` is installed (a
 * dependency of the toolchain) but its types (@types/ws) are not; these declarations follow
 * ws's documented API. Remove this file when @types/ws is added.
 */
declare module "ws" {
  import type { IncomingMessage } from "node:http";
  import type { Duplex } from "node:stream";
  import { EventEmitter } from "node:events";

  export class WebSocket extends EventEmitter {
    static readonly OPEN: 1;
    readonly readyState: number;
    readonly bufferedAmount: number;
    send(data: string, cb?: (err?: Error) => void): void;
    close(code?: number, reason?: string): void;
    terminate(): void;
    ping(): void;
  }

  export class WebSocketServer extends EventEmitter {
    constructor(options: { noServer: true; maxPayload?: number });
    handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, cb: (ws: WebSocket, request: IncomingMessage) => void): void;
    close(cb?: () => void): void;
  }

  export default WebSocket;
}
