using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Storage.Tests;

/// <summary>Contexts configured exactly as the processes configure them.</summary>
internal static class Contexts
{
    public static PostgresDocPipelineDbContext Postgres(string connectionString) =>
        new((DbContextOptions<PostgresDocPipelineDbContext>)StorageServiceCollectionExtensions
            .ConfigurePostgres(new DbContextOptionsBuilder<PostgresDocPipelineDbContext>(), connectionString).Options);

    public static SqliteDocPipelineDbContext Sqlite(string connectionString) =>
        new((DbContextOptions<SqliteDocPipelineDbContext>)StorageServiceCollectionExtensions
            .ConfigureSqlite(new DbContextOptionsBuilder<SqliteDocPipelineDbContext>(), connectionString).Options);

    /// <summary>Runs a query and returns its rows as string arrays.</summary>
    public static async Task<List<string?[]>> QueryAsync(DbContext context, string sql)
    {
        var conn = context.Database.GetDbConnection();
        if (conn.State != System.Data.ConnectionState.Open)
        {
            await context.Database.OpenConnectionAsync();
        }

        await using DbCommand cmd = conn.CreateCommand();
#pragma warning disable CA2100 // test-owned constant SQL
        cmd.CommandText = sql;
#pragma warning restore CA2100
        await using var reader = await cmd.ExecuteReaderAsync();
        var rows = new List<string?[]>();
        while (await reader.ReadAsync())
        {
            var row = new string?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);
            }

            rows.Add(row);
        }

        return rows;
    }
}

/// <summary>A fresh PostgreSQL database for one test class, migrated once; dropped afterwards.</summary>
public sealed class PostgresDatabase : IAsyncLifetime
{
    public string ConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        ConnectionString = await TestServices.CreateDatabaseAsync("storage_migrations");
        await using var db = Contexts.Postgres(ConnectionString);
        await db.Database.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        if (ConnectionString.Length == 0)
        {
            return;
        }

        var name = new NpgsqlConnectionStringBuilder(ConnectionString).Database!;
        // FORCE ends the pooled connections the tests left open on it.
        await using var conn = new NpgsqlConnection(TestServices.Postgres);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", conn);
        await cmd.ExecuteNonQueryAsync();
    }
}

/// <summary>A fresh SQLite file for one test class, migrated once; deleted afterwards.</summary>
public sealed class SqliteDatabase : IAsyncLifetime
{
    private readonly string _directory = TestServices.NewTempDirectory("sqlite");

    public string ConnectionString => $"Data Source={Path.Combine(_directory, "docpipe.db")}";

    public async Task InitializeAsync()
    {
        await using var db = Contexts.Sqlite(ConnectionString);
        await db.Database.MigrateAsync();
    }

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }
}
