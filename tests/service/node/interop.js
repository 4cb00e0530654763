// Node client for the interop test (tests/service/test_interop_node.py).
//
// Reads one JSON object on stdin: {"address": "127.0.0.1:PORT", "protos": DIR,
// "calls": [{"service": "thidua.v1.EvaluationService", "method": "Score",
// "request_b64": "..."} | {"health": "SERVICE"}]}. Each request arrives as the
// bytes the Python client would send; it is decoded with @grpc/proto-loader,
// sent with @grpc/grpc-js, and the response is re-encoded so that Python can
// compare it with its own answer message for message. Prints one JSON line per call.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const OPTIONS = { keepCase: true, longs: String, enums: String, defaults: false, oneofs: false };

function readStdin() {
  return new Promise((resolve) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => { text += chunk; });
    process.stdin.on('end', () => resolve(JSON.parse(text)));
  });
}

function call(client, method, request) {
  return new Promise((resolve) => {
    client[method](request, { deadline: Date.now() + 20000 }, (err, response) => {
      resolve(err ? { err } : { response });
    });
  });
}

async function main() {
  const spec = await readStdin();
  const files = ['thidua/v1/evaluation.proto', 'thidua/v1/rulesets.proto', 'health.proto'];
  const definition = protoLoader.loadSync(files, { ...OPTIONS, includeDirs: [spec.protos, __dirname] });
  const loaded = grpc.loadPackageDefinition(definition);
  const credentials = grpc.credentials.createInsecure();
  const clients = {
    'thidua.v1.EvaluationService': new loaded.thidua.v1.EvaluationService(spec.address, credentials),
    'thidua.v1.RulesetService': new loaded.thidua.v1.RulesetService(spec.address, credentials),
    'grpc.health.v1.Health': new loaded.grpc.health.v1.Health(spec.address, credentials),
  };
  for (const c of spec.calls) {
    if (c.health !== undefined) {
      const { err, response } = await call(clients['grpc.health.v1.Health'], 'Check', { service: c.health });
      console.log(JSON.stringify(err ? { code: err.code, details: err.details } : { status: response.status }));
      continue;
    }
    const methodDef = definition[c.service][c.method];
    const request = methodDef.requestDeserialize(Buffer.from(c.request_b64, 'base64'));
    const { err, response } = await call(clients[c.service], c.method, request);
    if (err) {
      console.log(JSON.stringify({ code: err.code, details: err.details }));
    } else {
      console.log(JSON.stringify({ response_b64: methodDef.responseSerialize(response).toString('base64') }));
    }
  }
  for (const client of Object.values(clients)) client.close();
}

main().catch((e) => { console.error(e && e.stack ? e.stack : String(e)); process.exit(1); });
