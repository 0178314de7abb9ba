package io.blocksim.model.qapi;

import java.util.Map;

/** A QMP event as QEMU emits it; the timestamp is virtual time and never reaches output. */
public record QmpEvent(String event, Map<String, Object> data, long timestampNs) {}
