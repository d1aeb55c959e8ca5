// Stigg's Node server SDK (@stigg/node-server-sdk, installed by stigg_devkit.stigg_sdks) against
// the emulator at $EMULATOR_URL, initialised with its default options: only the API key and the
// base URLs (the Edge API, GraphQL and the stream all at the emulator on 127.0.0.1).
//
// It reads entitlements as an application would, then follows the real-time stream: an admin
// change of a customer's plan (an `entitlementsUpdated` event) and usage reported by another
// writer (a `usageUpdated` event) must show in its next reads without a refetch. It prints one
// JSON object on its last line of stdout; the SDK's own logs go to stderr.
'use strict';

const { Stigg } = require('@stigg/node-server-sdk');

const url = process.env.EMULATOR_URL;
const apiKey = process.env.EMULATOR_API_KEY;
const EVENT_TIMEOUT_MS = 10000;

async function admin(method, path, body) {
  const response = await fetch(`${url}/_emulator/${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: response.status === 204 ? null : await response.json() };
}

async function waitFor(what, check) {
  const deadline = Date.now() + EVENT_TIMEOUT_MS;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function nextEvent(stigg, name, matches) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${name} event within ${EVENT_TIMEOUT_MS} ms`)), EVENT_TIMEOUT_MS);
    const listener = (payload) => {
      if (!matches(payload)) return;
      clearTimeout(timer);
      stigg.removeListener(name, listener);
      resolve(payload);
    };
    stigg.addListener(name, listener);
  });
}

function pick(entitlement, ...names) {
  const picked = {};
  for (const name of names) picked[name] = entitlement[name] === undefined ? null : entitlement[name];
  return picked;
}

async function edgeReads(customerId) {
  const { body } = await admin('GET', 'requests');
  return (body.byEndpointAndCustomer['edge:entitlements'] || {})[customerId] || 0;
}

async function main() {
  const result = {};
  const stigg = Stigg.initialize({ apiKey, baseUri: url, baseEdgeUri: url, wsUrl: url.replace(/^http/, 'ws') });
  await stigg.waitForInitialization();
  result.initialized = true;
  // The SDK subscribes at start-up; wait until the emulator holds its subscriptions.
  result.subscriptions = await waitFor('the subscriptions', async () => {
    const { body } = await admin('GET', 'stream');
    return body.subscriptions >= 4 ? body.subscriptions : 0;
  });

  const sso = await stigg.getBooleanEntitlement({ customerId: 'customer-pro', featureId: 'feature-sso' });
  result.sso = pick(sso, 'hasAccess', 'isFallback', 'accessDeniedReason');
  const projects = await stigg.getNumericEntitlement({ customerId: 'customer-pro', featureId: 'feature-max-projects' });
  result.projects = pick(projects, 'hasAccess', 'value', 'isUnlimited');
  const seats = await stigg.getMeteredEntitlement({
    customerId: 'customer-pro',
    featureId: 'feature-seats',
    options: { requestedUsage: 1 },
  });
  result.seats = pick(seats, 'hasAccess', 'usageLimit', 'currentUsage', 'isUnlimited', 'hasSoftLimit');
  const calls = await stigg.getMeteredEntitlement({
    customerId: 'customer-free',
    featureId: 'feature-api-calls',
    options: { requestedUsage: 800 },
  });
  result.freeCallsOverLimit = pick(calls, 'hasAccess', 'usageLimit', 'currentUsage', 'resetPeriod', 'accessDeniedReason');
  result.freeCallsPeriodEnd = calls.usagePeriodEnd ? new Date(calls.usagePeriodEnd).toISOString() : null;
  const region = await stigg.getEnumEntitlement({
    customerId: 'customer-pro',
    featureId: 'feature-data-region',
    options: { requestedValues: ['ap'] },
  });
  result.region = pick(region, 'hasAccess', 'enumValues', 'accessDeniedReason');
  const workspace = await stigg.getMeteredEntitlement({
    customerId: 'customer-enterprise',
    resourceId: 'workspace-eu',
    featureId: 'feature-seats',
  });
  result.workspaceSeats = pick(workspace, 'hasAccess', 'usageLimit', 'currentUsage');
  const all = await stigg.getEntitlements('customer-pro');
  result.entitlements = all.map((e) => [e.feature.id, e.type, e.hasAccess]);
  const nobody = await stigg.getBooleanEntitlement({ customerId: 'customer-nobody', featureId: 'feature-sso' });
  result.nobody = pick(nobody, 'hasAccess', 'isFallback', 'accessDeniedReason');
  const freeSso = await stigg.getBooleanEntitlement({ customerId: 'customer-free', featureId: 'feature-sso' });
  result.freeSsoBefore = pick(freeSso, 'hasAccess', 'accessDeniedReason');

  // Real-time: a plan change made upstream reaches the SDK's cache through the stream.
  const readsBefore = await edgeReads('customer-free');
  const updated = nextEvent(stigg, 'entitlementsUpdated', (p) => p.customerId === 'customer-free');
  result.planChange = (await admin('PUT', 'customers/customer-free', { plan: 'plan-pro' })).status;
  const event = await updated;
  result.entitlementsEvent = { customerId: event.customerId, count: event.entitlements.length };
  const freeSsoAfter = await stigg.getBooleanEntitlement({ customerId: 'customer-free', featureId: 'feature-sso' });
  result.freeSsoAfter = pick(freeSsoAfter, 'hasAccess', 'accessDeniedReason');
  result.edgeReadsForTheChange = (await edgeReads('customer-free')) - readsBefore;

  // Real-time: usage reported by another writer (straight to GraphQL) reaches the SDK's cache.
  const usage = nextEvent(stigg, 'usageUpdated', (p) => p.usage.customerId === 'customer-pro' && p.usage.featureId === 'feature-seats');
  const reported = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-API-KEY': apiKey },
    body: JSON.stringify({
      operationName: 'ReportUsage',
      query: 'mutation ReportUsage($input: ReportUsageInput!) { reportUsage(input: $input) { currentUsage } }',
      variables: { input: { customerId: 'customer-pro', featureId: 'feature-seats', value: 2 } },
    }),
  });
  result.otherWriter = reported.status;
  const usageEvent = await usage;
  result.usageEvent = { currentUsage: usageEvent.usage.currentUsage };
  const seatsAfter = await stigg.getMeteredEntitlement({ customerId: 'customer-pro', featureId: 'feature-seats' });
  result.seatsAfter = pick(seatsAfter, 'currentUsage', 'usageLimit');

  // The SDK's own write.
  const ack = await stigg.reportUsage({ customerId: 'customer-pro', featureId: 'feature-api-calls', value: 5 });
  result.reportUsage = pick(ack, 'currentUsage', 'featureId', 'customerId');
  const event2 = await stigg.reportEvent({ customerId: 'customer-pro', eventName: 'ai_query', idempotencyKey: 'node-e-1' });
  result.reportEvent = event2 === undefined ? 'undefined' : event2;

  await stigg.close();
  return result;
}

main().then(
  (result) => {
    console.log(JSON.stringify(result));
    process.exit(0);
  },
  (error) => {
    console.error(error && error.stack ? error.stack : error);
    process.exit(1);
  },
);
