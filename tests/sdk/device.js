// A device built on Alibaba's official Node device SDK (alibabacloud-iot-device-sdk), which we did
// not write, logged in to the emulator's plain MQTT port. It prints one line per step, which
// node_sdk.sh waits for and checks:
//   READY                      connected (the SDK has subscribed its preset topics)
//   REPLY <topic> <JSON>       a reply the SDK received on a _reply topic (its 'message' event)
//   POSTPROPS <reply JSON>     the SDK's postProps callback fired with the platform's reply
//   ONPROPS <request JSON>     a property set from the cloud (aliot cloud prop set)
//   SERVICE <name> <request>   a service call (aliot cloud invoke), answered as the SDK does
// Usage: node device.js SDK_DIR HOST PORT PK DN DS
const [sdkDir, host, port, productKey, deviceName, deviceSecret] = process.argv.slice(2);
const iot = require(require.resolve('alibabacloud-iot-device-sdk', {paths: [sdkDir]}));

const device = iot.device({
  productKey,
  deviceName,
  deviceSecret,
  brokerUrl: `mqtt://${host}:${port}`,
});

let ready = false;
device.on('connect', () => {
  if (ready) {
    return;
  }
  ready = true;
  // The SDK subscribes its reply topics right after CONNACK; give the SUBACKs a moment by
  // posting once they are in (mqtt.js sends packets in order, and the broker answers in order).
  setTimeout(() => {
    console.log('READY');
    device.postProps({Temp: 21.5}, (res) => {
      console.log('POSTPROPS ' + JSON.stringify(res));
    });
  }, 500);
});
device.on('error', (e) => console.log('ERROR ' + e));
device.on('message', (topic, payload) => {
  if (topic.endsWith('_reply')) {
    console.log('REPLY ' + topic + ' ' + payload.toString());
  }
});

device.onProps((req) => {
  console.log('ONPROPS ' + JSON.stringify(req));
  // Apply, answer, and report the new value back, as a device should.
  device.publish(`/sys/${productKey}/${deviceName}/thing/service/property/set_reply`,
                 JSON.stringify({id: req.id, code: 200, data: {}, version: '1.0'}));
  device.postProps(req.params, (res) => console.log('POSTPROPS ' + JSON.stringify(res)));
});

// Node SDK 1.2.8 subscribes the async topic of the first onService only (its subscription
// guard is shared by every name): the async service goes first, sync ones arrive over RRPC.
device.onService('Reboot', (req, reply) => {
  console.log('SERVICE Reboot ' + JSON.stringify(req));
  reply({id: req.id, code: 200, data: {}});
});
device.onService('Ping', (req, reply) => {
  console.log('SERVICE Ping ' + JSON.stringify(req));
  reply({id: req.id, code: 200, data: {Echo: 'pong from node'}}, 'sync');
});
