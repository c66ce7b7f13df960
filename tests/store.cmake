# Store: the LMDB layer (test_db) and the store actor (test_store).
sl_add_test(NAME test_db SOURCES actors/test_db.c LIBS sl_store LABEL unit TIMEOUT 120)
sl_add_test(NAME test_store SOURCES actors/test_store.c LIBS sl_store LABEL unit TIMEOUT 120)
