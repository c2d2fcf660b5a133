"""The baseline peer: a minimal paho relay, bed empty -> hall light on. Not part of huis."""

import json
import sys

import paho.mqtt.client as mqtt

host, port = sys.argv[1], int(sys.argv[2])


def on_connect(client, userdata, flags, reason_code, properties):
    client.subscribe("zigbee2mqtt/bed_sensor", qos=1)


def on_message(client, userdata, msg):
    try:
        data = json.loads(msg.payload)
    except ValueError:
        return
    if data.get("occupancy") is False:
        client.publish("zigbee2mqtt/hall_light/set", json.dumps({"state": "ON", "brightness": 25}), qos=1)


client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-relay")
client.on_connect = on_connect
client.on_message = on_message
client.connect(host, port)
client.loop_forever()
