-- Connectivity of a device on the embedded MQTT broker (store.Device.Connected, ConnectedAt,
-- DisconnectedAt); times in Unix nanoseconds, 0 when never.
ALTER TABLE devices ADD COLUMN connected BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE devices ADD COLUMN connected_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN disconnected_at BIGINT NOT NULL DEFAULT 0;
