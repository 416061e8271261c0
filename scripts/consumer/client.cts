// Browser code compiled to CommonJS (older tooling, Jest): the client through `require` conditions.
import client = require('nself-realtime/client')

const c: client.WebSocketClient = new client.WebSocketClient('http://localhost:3022')
const status: client.ConnectionStatus = c.getStatus()
void status
