package io.blocksim.model.qapi;

/**
 * A QAPI enum modelled as a Java enum: each constant carries the spelling QMP uses, which is what
 * {@link Args#optEnum(String, Class)} parses and what events and queries show.
 */
public interface QapiEnum {
  /** The value as QMP spells it ("on-success", "write-blocking", ...). */
  String qapiName();
}
