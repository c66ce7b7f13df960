# sl_wire: JSON wire formats, checked against frames captured from the fleet.
sl_add_test(NAME test_wire SOURCES proto/test_wire.c LIBS sl_wire LABEL unit TIMEOUT 60)
