import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from './src/config/app-config.js';
import { buildDataSourceOptions } from './src/database/data-source.js';

/** The DataSource for the TypeORM CLI (`npm run typeorm -- migration:show`); the same options as the app. */
export default new DataSource(buildDataSourceOptions(loadConfig(process.env).database));
