#!/usr/bin/env node
// A second implementation of a few OPI Bitrix24 functions, written from conformance/SPEC.md only (no Python):
// the suite's test of itself as another implementation's CI uses it (tests/test_suite_second_impl.py).
//
//   node mini-opi.js <Method> --<option> <value> ... [--out FILE]
//
// Implemented: ServerTime, GetUsers, CreateTask, GetTask, DeleteTask, GetAppAuthLink. Transport policy: opi.
// MINI_BUGS (comma-separated) switches on deliberate bugs the suite must catch:
//   js-order      structures go through JSON.parse / JSON.stringify (integer-like keys move first)
//   blank-values  an empty or blank option value is sent instead of counting as not given
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');

const BUGS = new Set((process.env.MINI_BUGS || '').split(',').filter(Boolean));
const USAGE = 2;
const RUNTIME = 99;

class Usage extends Error {}

// --- values: an order-keeping JSON reader (double or single quotes) and writer -----------------------------
// An object is {pairs: [[key, value], ...]}: plain JavaScript objects put integer-like keys first.
function parseJson(text) {
  let at = 0;
  const fail = () => { throw new SyntaxError(`not JSON at ${at}`); };
  const space = () => { while (at < text.length && ' \t\r\n'.includes(text[at])) at++; };
  function string() {
    const quote = text[at++];
    let out = '';
    while (at < text.length && text[at] !== quote) {
      if (text[at] === '\\') {
        const code = text[at + 1];
        const simple = { '"': '"', "'": "'", '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (code in simple) { out += simple[code]; at += 2; }
        else if (code === 'u') { out += String.fromCharCode(parseInt(text.slice(at + 2, at + 6), 16)); at += 6; }
        else fail();
      } else out += text[at++];
    }
    if (text[at] !== quote) fail();
    at++;
    return out;
  }
  function value() {
    space();
    const c = text[at];
    if (c === '{') {
      at++; const pairs = []; space();
      if (text[at] === '}') { at++; return { pairs }; }
      for (;;) {
        space(); if (text[at] !== '"' && text[at] !== "'") fail();
        const key = string(); space(); if (text[at++] !== ':') fail();
        pairs.push([key, value()]); space();
        if (text[at] === ',') { at++; continue; }
        if (text[at] === '}') { at++; return { pairs }; }
        fail();
      }
    }
    if (c === '[') {
      at++; const items = []; space();
      if (text[at] === ']') { at++; return items; }
      for (;;) {
        items.push(value()); space();
        if (text[at] === ',') { at++; continue; }
        if (text[at] === ']') { at++; return items; }
        fail();
      }
    }
    if (c === '"' || c === "'") return string();
    for (const [word, meaning] of [['true', true], ['false', false], ['null', null]]) {
      if (text.startsWith(word, at)) { at += word.length; return meaning; }
    }
    const found = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(at));
    if (!found) fail();
    at += found[0].length;
    return { number: found[0] };
  }
  const result = value(); space();
  if (at !== text.length) fail();
  return result;
}

function writeJson(v) {
  if (v === null || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(writeJson).join(',') + ']';
  if ('number' in v) return v.number;
  return '{' + v.pairs.map(([k, x]) => JSON.stringify(k) + ':' + writeJson(x)).join(',') + '}';
}

function plain(v) {  // the bug: what JSON.parse would have made of it
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(plain);
  if ('number' in v) return Number(v.number);
  const o = {}; for (const [k, x] of v.pairs) o[k] = plain(x); return o;
}

function structure(text, option) {  // SPEC 2: JSON text (either quotes), or a path to a .json file
  let source = text;
  if (fs.existsSync(text) && fs.statSync(text).isFile()) source = fs.readFileSync(text, 'utf8');
  let parsed;
  try { parsed = parseJson(source.trim()); } catch (e) { throw new Usage(`--${option}: not a JSON structure`); }
  if (BUGS.has('js-order')) return { raw: JSON.stringify(plain(parsed)) };
  return parsed;
}

function array(text) {  // SPEC 2: JSON array text, else a one-item array of the text
  if (text.trimStart().startsWith('[')) return parseJson(text.trim());
  return [text];
}

function unescape(value) {  // SPEC 1: \n \r \f \v and \\, not in JSON text or an existing file's name
  const head = value.trimStart()[0];
  if (!value.includes('\\') || head === '{' || head === '[' || fs.existsSync(value)) return value;
  const table = { n: '\n', r: '\r', f: '\f', v: '\v', '\\': '\\' };
  let out = '';
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '\\' && value[i + 1] in table) { out += table[value[i + 1]]; i++; }
    else out += value[i];
  }
  return out;
}

function blank(value) { return /^[\s\u0085]*$/.test(value); }

// --- the address and the request (SPEC 3, 4, 5) ---------------------------------------------------------
function endpoint(url, token, restMethod) {
  let address = url.trim();
  const scheme = /^(https?):\/\//i.exec(address);
  address = scheme ? address.slice(scheme[0].length) : address;
  if (address.toLowerCase().startsWith('www.')) address = address.slice(4);
  if (!address.endsWith('/')) address += '/';
  if (token && !address.endsWith('rest/')) address += 'rest/';
  return `${scheme ? scheme[1].toLowerCase() : 'https'}://${address}${restMethod}`;
}

function once(verb, url, body) {
  return new Promise((resolve) => {
    const target = new URL(url);
    const headers = body === null ? {} : { 'Content-Type': 'application/json; charset=utf-8',
                                           'Content-Length': Buffer.byteLength(body) };
    const request = (target.protocol === 'https:' ? https : http).request(target, { method: verb, headers }, (answer) => {
      const chunks = [];
      answer.on('data', (c) => chunks.push(c));
      answer.on('end', () => resolve({ status: answer.statusCode, location: answer.headers.location,
                                       body: Buffer.concat(chunks) }));
      answer.on('error', () => resolve({ status: 0 }));
    });
    request.on('error', () => resolve({ status: 0 }));
    if (body !== null) request.write(body);
    request.end();
  });
}

async function send(verb, url, body) {  // policy opi: five immediate re-sends, redirects followed
  let answer;
  for (let attempt = 0; attempt < 6; attempt++) {
    let [how, target, data] = [verb, url, body];
    answer = await once(how, target, data);
    for (let hops = 0; hops < 5 && [301, 302, 303, 307, 308].includes(answer.status) && answer.location; hops++) {
      target = new URL(answer.location, target).toString();
      if (answer.status <= 303) [how, data] = ['GET', null];
      answer = await once(how, target, data);
    }
    if (answer.status > 0 && answer.status < 500) break;
  }
  if (answer.status === 0) throw new Error('the connection failed');
  return answer.body;
}

async function call(url, token, restMethod, fields, get = false) {
  if (get) {
    const query = token ? '?auth=' + encodeURIComponent(token) : '';
    return send('GET', endpoint(url, token, restMethod) + query, null);
  }
  const pairs = token ? [['auth', token], ...fields] : fields;
  const body = '{' + pairs.map(([k, v]) => JSON.stringify(k) + ':' + (v && v.raw ? v.raw : writeJson(v))).join(',') + '}';
  return send('POST', endpoint(url, token, restMethod), body);
}

// --- the functions (names, options and requests from the catalog) ---------------------------------------
const METHODS = {
  ServerTime: { options: ['url', 'token'], required: ['url'],
    run: (o) => call(o.url, o.token, 'server.time', [], true) },
  GetUsers: { options: ['url', 'users', 'token'], required: ['url', 'users'],
    run: (o) => call(o.url, o.token, 'im.user.list.get', [['ID', array(o.users)]]) },
  CreateTask: { options: ['url', 'fields', 'token'], required: ['url', 'fields'],
    run: (o) => call(o.url, o.token, 'tasks.task.add', [['fields', structure(o.fields, 'fields')]]) },
  GetTask: { options: ['url', 'task', 'token'], required: ['url', 'task'],
    run: (o) => call(o.url, o.token, 'tasks.task.get', blank(o.task) ? [] : [['taskId', o.task]]) },
  DeleteTask: { options: ['url', 'task', 'token'], required: ['url', 'task'],
    run: (o) => call(o.url, o.token, 'tasks.task.delete', blank(o.task) ? [] : [['taskId', o.task]]) },
  GetAppAuthLink: { options: ['domain', 'clientid'], required: ['domain', 'clientid'],
    run: async (o) => {
      let domain = o.domain.trim();
      if (!/^https?:\/\//i.test(domain)) domain = 'https://' + domain;
      if (!domain.endsWith('/')) domain += '/';
      return Buffer.from(`${domain}oauth/authorize/?client_id=${o.clientid}`);
    } },
};

async function main(argv) {
  const spec = METHODS[argv[0]];
  if (!spec) throw new Usage(`unknown method ${JSON.stringify(argv[0] || '')}`);
  const given = {}; let out = null;
  for (let i = 1; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, ''); const value = argv[i + 1] === undefined ? '' : argv[i + 1];
    if (blank(value) && !BUGS.has('blank-values')) continue;  // SPEC 1: a blank value is not given
    if (name === 'out') { out = value; continue; }
    if (!spec.options.includes(name)) continue;  // OPI ignores an option the method does not take
    given[name] = unescape(value);
  }
  for (const name of spec.required) if (!(name in given)) throw new Usage(`${argv[0]} needs --${name}`);
  const result = await spec.run(given);
  if (out) fs.writeFileSync(out, result); else process.stdout.write(result);
}

main(process.argv.slice(2)).then(() => process.exit(0), (error) => {
  process.stderr.write(`mini-opi: ${error instanceof Usage ? error.message : 'the call failed'}\n`);
  process.exit(error instanceof Usage ? USAGE : RUNTIME);
});
