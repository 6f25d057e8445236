#!/usr/bin/env node
// The reference oracle for telefhir's fhir/fhirpath package.
//
// It evaluates FHIR R4 SearchParameter expressions with fhirpath.js (the
// pinned version in package.json, with its R4 model) over a directory of
// example resources and writes one JSON line per (search parameter, example
// file) pair:
//
//   {"param":"Observation-code","expression":"Observation.code",
//    "file":"Observation-example.json","sha256":"…",
//    "values":[{"type":"FHIR.CodeableConcept","value":{…}}]}
//
// or, when fhirpath.js fails on the pair, the same with "error":"message"
// instead of "values".
//
// Usage:
//
//   npm ci
//   node oracle.js --params PARAMS --examples DIR [--examples DIR2 …] [--out FILE]
//   node oracle.js --extract-params BUNDLE > searchparams.json
//
// PARAMS is either the R4 Bundle of SearchParameters (Bundle-searchParams.json
// of the hl7.fhir.r4.examples package) or the compact array that
// --extract-params writes from it. Each DIR holds example resources as
// *.json files, one resource per file (files without a resourceType are
// skipped); a file name may not be in two of them.
// A parameter applies to a file when its base names the file's resourceType,
// Resource, or DomainResource for a domain resource.
//
// resolve(): fhirpath.js resolves references by fetching them from a FHIR
// server. The oracle gives it a server that does not exist and answers every
// fetch itself, without any network: a URL whose path ends in
// Type/id (optionally followed by /_history/vid), Type being an R4 resource
// type, resolves to the stub resource {"resourceType":Type,"id":id}; anything
// else is not found. Contained references ("#id") are resolved by fhirpath.js
// itself. This is the same rule the Go evaluator applies without a database.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const fhirpath = require('fhirpath');
const r4 = require('fhirpath/fhir-context/r4');

const serverBase = 'https://fhirpath-oracle.invalid/fhir';
const idPattern = /^[A-Za-z0-9\-.]{1,64}$/;

function isResourceType(name) {
  const parent = r4.type2Parent[name];
  return parent === 'DomainResource' || parent === 'Resource';
}

// stubFor returns the stub resource a reference URL resolves to, or null.
// A relative reference (fetched from serverBase) must be exactly Type/id or
// Type/id/_history/vid; an absolute http(s) URL must end with one of those.
function stubFor(url) {
  let segs;
  if (url.startsWith(serverBase + '/')) {
    segs = url.slice(serverBase.length + 1).split('/');
    if (segs.length !== 2 && (segs.length !== 4 || segs[2] !== '_history')) {
      return null;
    }
  } else {
    const m = /^https?:\/\/[^/]*\/(.*)$/.exec(url);
    if (!m) {
      return null;
    }
    segs = m[1].split('/');
  }
  let n = segs.length;
  if (n >= 4 && segs[n - 2] === '_history') {
    n -= 2;
  }
  if (n < 2) {
    return null;
  }
  const type = segs[n - 2];
  const id = segs[n - 1];
  if (!isResourceType(type) || !idPattern.test(id)) {
    return null;
  }
  return {resourceType: type, id};
}

globalThis.fetch = async function(url) {
  const stub = stubFor(String(url));
  const body = stub ? stub : {resourceType: 'OperationOutcome'};
  return new Response(JSON.stringify(body), {
    status: stub ? 200 : 404,
    headers: {'Content-Type': 'application/fhir+json'},
  });
};

function readParams(file) {
  const data = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (Array.isArray(data)) {
    return data;
  }
  const out = [];
  for (const e of data.entry || []) {
    const r = e.resource;
    if (!r || r.resourceType !== 'SearchParameter') {
      continue;
    }
    out.push({
      id: r.id,
      code: r.code,
      base: r.base,
      type: r.type,
      expression: r.expression || '',
    });
  }
  return out;
}

function readExamples(dir) {
  const out = [];
  for (const name of fs.readdirSync(dir).sort()) {
    if (!name.endsWith('.json') || name === 'package.json' || name.startsWith('.')) {
      continue;
    }
    const bytes = fs.readFileSync(path.join(dir, name));
    let res;
    try {
      res = JSON.parse(bytes.toString('utf8'));
    } catch (e) {
      continue;
    }
    if (!res || typeof res !== 'object' || typeof res.resourceType !== 'string') {
      continue;
    }
    out.push({
      name,
      res,
      sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
    });
  }
  return out;
}

function applies(param, resourceType) {
  for (const b of param.base) {
    if (b === resourceType || b === 'Resource') {
      return true;
    }
    if (b === 'DomainResource' && r4.type2Parent[resourceType] === 'DomainResource') {
      return true;
    }
  }
  return false;
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--') || i + 1 >= argv.length) {
      throw new Error('bad argument ' + a);
    }
    const k = a.slice(2);
    const v = argv[++i];
    if (k === 'examples') {
      (args[k] = args[k] || []).push(v);
    } else {
      args[k] = v;
    }
  }
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args['extract-params']) {
    const params = readParams(args['extract-params']);
    process.stdout.write('[\n' + params.map(p => JSON.stringify(p)).join(',\n') + '\n]\n');
    return;
  }
  if (!args.params || !args.examples) {
    throw new Error('usage: node oracle.js --params PARAMS --examples DIR [--examples DIR2 …] [--out FILE]');
  }
  const params = readParams(args.params).filter(p => p.expression);
  const examples = [];
  const seen = new Set();
  for (const dir of args.examples) {
    for (const ex of readExamples(dir)) {
      if (seen.has(ex.name)) {
        throw new Error(`example ${ex.name} is in more than one --examples directory`);
      }
      seen.add(ex.name);
      examples.push(ex);
    }
  }
  const out = args.out ? fs.createWriteStream(args.out) : process.stdout;
  const options = {async: true, resolveInternalTypes: false, fhirServerUrl: serverBase};
  let pairs = 0;
  for (const p of params) {
    let fn = null;
    let compileError = null;
    try {
      fn = fhirpath.compile(p.expression, r4, options);
    } catch (e) {
      compileError = String(e && e.message || e);
    }
    for (const ex of examples) {
      if (!applies(p, ex.res.resourceType)) {
        continue;
      }
      const line = {param: p.id, expression: p.expression, file: ex.name, sha256: ex.sha256};
      if (compileError) {
        line.error = compileError;
      } else {
        try {
          const result = await fn(ex.res, {});
          // One item at a time: resolveInternalTypes drops items whose
          // value is null (a primitive that has only extensions), which
          // would misalign values and types.
          line.values = result.map(item => {
            const [type] = fhirpath.types([item]);
            const [value] = fhirpath.resolveInternalTypes([item]);
            return {type, value: value === undefined ? null : value};
          });
        } catch (e) {
          line.error = String(e && e.message || e);
        }
      }
      if (!out.write(JSON.stringify(line) + '\n')) {
        await new Promise(resolve => out.once('drain', resolve));
      }
      pairs++;
    }
  }
  if (out !== process.stdout) {
    await new Promise((resolve, reject) => out.end(err => (err ? reject(err) : resolve())));
  }
  process.stderr.write(`fhirpath ${fhirpath.version}: ${params.length} expressions, ${examples.length} examples, ${pairs} pairs\n`);
}

main().catch(e => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
