-- Databases of the two compose nodes (docker-compose.yml).
CREATE DATABASE cmaa_no;
CREATE DATABASE cmaa_jp;
