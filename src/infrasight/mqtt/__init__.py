"""MQTT ingest: device messages through a broker into the same ingest service as HTTP.

:mod:`infrasight.mqtt.messages` turns one message into stored readings (no protocol client);
:mod:`infrasight.mqtt.bridge` is the paho-mqtt adapter that subscribes and answers.
"""
