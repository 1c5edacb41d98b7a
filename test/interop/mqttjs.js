#!/usr/bin/env node
// MQTT.js (MQTT 3.1.1, and MQTT 5 for the v5 checks) against a running
// midge, for run.sh. One check per invocation; a URL picks the transport
// (mqtt://host:port or ws://host:port/mqtt). It exits 0 when the check
// passes, and 1 with the reason on stderr when it fails or takes longer
// than 10 s.
//
//   node mqttjs.js pubsub   URL                      QoS 0, 1, 2 through a wildcard
//   node mqttjs.js retained URL                      a retained message, then cleared
//   node mqttjs.js will     URL                      a will when the socket drops
//   node mqttjs.js v5props  URL                      MQTT 5: user properties and a
//                                                    subscription identifier
//   node mqttjs.js v5rpc    URL                      MQTT 5: request/response with
//                                                    response topic and correlation data
//   node mqttjs.js pub      URL TOPIC QOS PAYLOAD    publish one message
//   node mqttjs.js sub      URL TOPIC QOS COUNT      print "subscribed", then
//                                                    "TOPIC QOS PAYLOAD" per message
'use strict';

const mqtt = require('mqtt');

const timeoutMs = 10000;
const [cmd, url, ...args] = process.argv.slice(2);
const unique = `${process.pid}-${Date.now()}`;

function fail(msg) {
  console.error(`mqttjs ${cmd} ${url}: ${msg}`);
  process.exit(1);
}

setTimeout(() => fail(`no result in ${timeoutMs / 1000} s`), timeoutMs).unref();

function connect(id, extra = {}) {
  return mqtt.connectAsync(url, {
    protocolVersion: 4,
    clientId: `js-${id}-${unique}`.slice(0, 23),
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...extra,
  });
}

function check(cond, msg) {
  if (!cond) fail(msg);
}

// connect5 connects an MQTT 5 client.
function connect5(id, extra = {}) {
  return connect(id, { protocolVersion: 5, ...extra });
}

// messages returns a function that resolves with the client's next message.
function messages(client) {
  const queue = [];
  const waiting = [];
  client.on('message', (topic, payload, packet) => {
    const m = { topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain, properties: packet.properties || {} };
    if (waiting.length) waiting.shift()(m);
    else queue.push(m);
  });
  return () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiting.push(resolve)));
}

function same(got, want) {
  for (const k of Object.keys(want)) {
    check(got[k] === want[k], `got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

const checks = {
  async pubsub() {
    const base = `js/${unique}`;
    const sub = await connect('sub');
    const next = messages(sub);
    const granted = await sub.subscribeAsync(`${base}/+`, { qos: 2 });
    check(granted.length === 1 && granted[0].qos === 2, `granted ${JSON.stringify(granted)}, want QoS 2`);
    const pub = await connect('pub');
    for (const qos of [0, 1, 2]) {
      await pub.publishAsync(`${base}/q${qos}`, `qos ${qos}`, { qos });
      same(await next(), { topic: `${base}/q${qos}`, payload: `qos ${qos}`, qos, retain: false });
    }
    // A lower subscription QoS caps the delivery.
    await sub.subscribeAsync(`${base}/capped/#`, { qos: 1 });
    await pub.publishAsync(`${base}/capped/x`, 'capped', { qos: 2 });
    same(await next(), { topic: `${base}/capped/x`, payload: 'capped', qos: 1 });
    await Promise.all([sub.endAsync(), pub.endAsync()]);
  },

  async retained() {
    const topic = `js/${unique}/retained`;
    const pub = await connect('pub');
    await pub.publishAsync(topic, 'kept', { qos: 1, retain: true });
    const late = await connect('late');
    const next = messages(late);
    await late.subscribeAsync(topic, { qos: 2 });
    same(await next(), { topic, payload: 'kept', qos: 1, retain: true });
    // Cleared by an empty retained message: a new subscriber gets only
    // what is published after it subscribed.
    await pub.publishAsync(topic, '', { qos: 1, retain: true });
    const later = await connect('later');
    const nextLater = messages(later);
    await later.subscribeAsync(topic, { qos: 2 });
    await pub.publishAsync(topic, 'live', { qos: 1 });
    same(await nextLater(), { topic, payload: 'live', retain: false });
    await Promise.all([pub.endAsync(), late.endAsync(), later.endAsync()]);
  },

  async will() {
    const topic = `js/${unique}/will`;
    const watch = await connect('watch');
    const next = messages(watch);
    await watch.subscribeAsync(topic, { qos: 1 });
    const doomed = await connect('doomed', { will: { topic, payload: Buffer.from('gone'), qos: 1, retain: false } });
    doomed.stream.destroy(); // no DISCONNECT: the broker must publish the will
    same(await next(), { topic, payload: 'gone', qos: 1, retain: false });
    doomed.end(true);
    await watch.endAsync();
  },

  async v5props() {
    const topic = `js5/${unique}/props`;
    const sub = await connect5('sub5');
    check(sub.options.protocolVersion === 5, 'not connected with MQTT 5');
    const next = messages(sub);
    const granted = await sub.subscribeAsync(`js5/${unique}/+`, { qos: 1, properties: { subscriptionIdentifier: 42 } });
    check(granted.length === 1 && granted[0].qos === 1, `granted ${JSON.stringify(granted)}, want QoS 1`);
    const pub = await connect5('pub5');
    // Order and duplicates of user properties are kept: MQTT.js gives a
    // repeated key as an array.
    const userProperties = { a: ['1', '2'], b: '3' };
    await pub.publishAsync(topic, 'with properties', { qos: 1, properties: { userProperties, contentType: 'text/plain' } });
    const m = await next();
    same(m, { topic, payload: 'with properties', qos: 1 });
    const p = m.properties;
    check(JSON.stringify(p.userProperties) === JSON.stringify(userProperties),
      `user properties ${JSON.stringify(p.userProperties)}, want ${JSON.stringify(userProperties)}`);
    check(p.contentType === 'text/plain', `content type ${p.contentType}`);
    const ids = [].concat(p.subscriptionIdentifier);
    check(ids.length === 1 && ids[0] === 42, `subscription identifier ${JSON.stringify(p.subscriptionIdentifier)}, want 42`);
    await Promise.all([sub.endAsync(), pub.endAsync()]);
  },

  async v5rpc() {
    const requests = `js5/${unique}/requests`;
    const responder = await connect5('responder');
    responder.on('message', (topic, payload, packet) => {
      const p = packet.properties || {};
      if (topic !== requests || !p.responseTopic) return;
      responder.publish(p.responseTopic, `re: ${payload}`, { qos: 1, properties: { correlationData: p.correlationData } });
    });
    await responder.subscribeAsync(requests, { qos: 1 });
    const requester = await connect5('requester');
    const next = messages(requester);
    const responses = `js5/${unique}/responses`;
    await requester.subscribeAsync(responses, { qos: 1 });
    const correlationData = Buffer.from([0, 1, 2, 0xff]);
    await requester.publishAsync(requests, 'ping', { qos: 1, properties: { responseTopic: responses, correlationData } });
    const m = await next();
    same(m, { topic: responses, payload: 're: ping' });
    const got = m.properties.correlationData;
    check(Buffer.isBuffer(got) && got.equals(correlationData), `correlation data ${got && got.toString('hex')}, want 000102ff`);
    await Promise.all([responder.endAsync(), requester.endAsync()]);
  },

  async pub() {
    const [topic, qos, payload] = args;
    const c = await connect('pub');
    await c.publishAsync(topic, payload, { qos: Number(qos) });
    await c.endAsync();
  },

  async sub() {
    const [topic, qos, count] = args;
    const c = await connect('sub');
    const next = messages(c);
    await c.subscribeAsync(topic, { qos: Number(qos) });
    console.log('subscribed');
    for (let i = 0; i < Number(count); i++) {
      const m = await next();
      console.log(`${m.topic} ${m.qos} ${m.payload}`);
    }
    await c.endAsync();
  },
};

if (!checks[cmd] || !url) {
  console.error('usage: node mqttjs.js pubsub|retained|will|v5props|v5rpc|pub|sub URL [args]');
  process.exit(2);
}
checks[cmd]().then(
  () => process.exit(0),
  (err) => fail(err && err.stack ? err.stack : String(err)),
);
