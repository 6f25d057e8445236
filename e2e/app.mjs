// A SMART app on the fhirclient library's Node adapter, for the end-to-end
// tests in e2e_test.go. It serves, for each client kind it is given:
//
//   /<kind>/launch      EHR launch (iss and launch in the query)
//   /<kind>/standalone  standalone launch (iss in the query)
//   /<kind>/callback    completes the authorization, then reads the
//                       patient and searches their Observations, and
//                       answers with what it found as JSON
//
// Usage: node app.mjs CLIENTS.json — prints "listening <port>". The
// clients file (fhirclient options by kind) is read at each request, so it
// can be written once the port is known and the clients are registered.
import fs from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const smart = require("fhirclient");

// One in-memory storage for all flows: fhirclient keys its state by the
// random state parameter, and the tests run one flow at a time.
const store = {};
const storage = {
  async get(key) { return store[key]; },
  async set(key, value) { store[key] = value; return value; },
  async unset(key) { const had = key in store; delete store[key]; return had; },
};

function send(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://" + req.headers.host);
  const [, kind, step] = url.pathname.split("/");
  const clients = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const cfg = clients[kind];
  if (!cfg) return send(res, 404, { error: "no client " + kind });
  const api = smart(req, res, storage);
  try {
    if (step === "launch" || step === "standalone") {
      const opts = {
        clientId: cfg.clientId,
        scope: cfg.scope + (step === "standalone" ? " launch/patient" : " launch"),
        redirectUri: "/" + kind + "/callback",
        pkceMode: "required",
      };
      if (cfg.clientSecret) opts.clientSecret = cfg.clientSecret;
      if (cfg.clientPrivateJwk) opts.clientPrivateJwk = cfg.clientPrivateJwk;
      return await api.authorize(opts);
    }
    if (step === "callback") {
      const client = await api.ready();
      const patient = await client.request("Patient/" + client.patient.id);
      const bundle = await client.request("Observation?patient=" + client.patient.id + "&_count=100");
      return send(res, 200, {
        patient: patient.id,
        family: patient.name?.[0]?.family,
        observations: (bundle.entry || []).length,
        encounter: client.encounter.id || null,
        scope: client.state.tokenResponse.scope,
        fhirUser: client.getFhirUser() || null,
        refresh: Boolean(client.state.tokenResponse.refresh_token),
      });
    }
    return send(res, 404, { error: "no step " + step });
  } catch (err) {
    return send(res, 500, { error: String(err && err.message || err) });
  }
});

server.listen(0, "127.0.0.1", () => {
  console.log("listening " + server.address().port);
});
