using Microsoft.EntityFrameworkCore;
using Npgsql;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Pipeline.Tests;

/// <summary>deploy/db/roles.sql on a migrated PostgreSQL database: what the SQL users' role may not do.</summary>
public sealed class ReaderRoleTests : IAsyncLifetime
{
    private PipelineHost _host = null!;

    public async Task InitializeAsync() => _host = await PipelineHost.StartDistributedAsync("reader");

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task The_reader_connects_to_the_docpipe_database_only_and_gets_no_temp_tables_or_large_objects()
    {
        var connectionString = await _host.WithDbAsync(db => Task.FromResult(db.Database.GetConnectionString()!));
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using (var roles = new NpgsqlCommand(await File.ReadAllTextAsync(Path.Combine(TestServices.RepoRoot, "deploy", "db", "roles.sql")), conn))
        {
            await roles.ExecuteNonQueryAsync();
        }

        Assert.True(await ScalarAsync<bool>(conn, "select has_database_privilege('docpipe_reader', current_database(), 'CONNECT')"));
        Assert.False(await ScalarAsync<bool>(conn, "select has_database_privilege('docpipe_reader', 'postgres', 'CONNECT')"));
        Assert.False(await ScalarAsync<bool>(conn, "select has_database_privilege('docpipe_reader', current_database(), 'TEMPORARY')"));

        foreach (var sql in new[] { "create temporary table scratch (i int)", "select lo_create(0)" })
        {
            await using var tx = await conn.BeginTransactionAsync();
            await using (var role = new NpgsqlCommand("set local role docpipe_reader", conn, tx))
            {
                await role.ExecuteNonQueryAsync();
            }

            await using var cmd = new NpgsqlCommand(sql, conn, tx);
            var denied = await Assert.ThrowsAsync<PostgresException>(() => cmd.ExecuteNonQueryAsync());
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, denied.SqlState);
            await tx.RollbackAsync();
        }
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }
}
