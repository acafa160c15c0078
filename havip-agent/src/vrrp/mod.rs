//! VRRP election core (sans-IO): wire codec and state machine.
