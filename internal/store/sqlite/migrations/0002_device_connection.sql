-- Connectivity of a device on the embedded MQTT broker (store.Device.Connected, ConnectedAt,
-- DisconnectedAt); times in Unix nanoseconds, 0 when never.
ALTER TABLE devices ADD COLUMN connected INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN connected_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN disconnected_at INTEGER NOT NULL DEFAULT 0;
