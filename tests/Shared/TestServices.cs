using System.Net.Http.Headers;
using System.Text;
using Npgsql;

namespace PaliGemma2.DocPipeline.Tests.Shared;

/// <summary>
/// The real services scripts/test.sh starts on loopback. Tests that need them fail with a clear
/// message when run outside that script rather than silently skipping.
/// </summary>
internal static class TestServices
{
    public static string Postgres => Require("DOCPIPE_TEST_POSTGRES");

    public static Uri RabbitMq => new(Require("DOCPIPE_TEST_RABBITMQ"));

    public static Uri RabbitMqManagement => new(Require("DOCPIPE_TEST_RABBITMQ_MANAGEMENT"));

    public static Uri Orthanc => new(Require("DOCPIPE_TEST_ORTHANC"));

    public static string RepoRoot => Shared.Corpus.RepoRoot;

    public static string Corpus(string kind) => Shared.Corpus.Folder(kind);

    public static string CorpusFile(string kind, string name) => Shared.Corpus.File(kind, name);

    /// <summary>A fresh database on the test cluster; returns its connection string.</summary>
    public static async Task<string> CreateDatabaseAsync(string prefix)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(60, prefix.Length + 33)].ToLowerInvariant();
        await using var conn = new NpgsqlConnection(Postgres);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", conn);
        await cmd.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(Postgres) { Database = name }.ConnectionString;
    }

    /// <summary>A fresh RabbitMQ virtual host (via the management API); returns its AMQP URI.</summary>
    public static async Task<Uri> CreateVirtualHostAsync(string prefix)
    {
        var vhost = $"{prefix}-{Guid.NewGuid():N}";
        using var http = ManagementClient();
        (await http.PutAsync($"api/vhosts/{vhost}", null)).EnsureSuccessStatusCode();
        using var perms = new StringContent("{\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}", Encoding.UTF8, "application/json");
        (await http.PutAsync($"api/permissions/{vhost}/guest", perms)).EnsureSuccessStatusCode();
        var b = new UriBuilder(RabbitMq) { Path = "/" + vhost };
        return b.Uri;
    }

    /// <summary>Waits until <paramref name="queue"/> in the vhost of <paramref name="amqp"/> has a consumer (a process's bus is up).</summary>
    public static Task<bool> WaitForConsumerAsync(Uri amqp, string queue, TimeSpan timeout) =>
        WaitForQueueAsync(amqp, queue, q => q.TryGetProperty("consumers", out var c) && c.GetInt32() > 0, timeout);

    /// <summary>
    /// Waits until <paramref name="queue"/> has acknowledged at least <paramref name="count"/> messages in all: every one
    /// of them consumed, whatever the consumer did with it. The management API's cumulative ack count only grows, so a
    /// stale statistics sample can delay the answer but never make it true early.
    /// </summary>
    public static Task<bool> WaitForAcksAsync(Uri amqp, string queue, long count, TimeSpan timeout) =>
        WaitForQueueAsync(amqp, queue, q => q.TryGetProperty("message_stats", out var stats)
            && stats.TryGetProperty("ack", out var acks) && acks.GetInt64() >= count, timeout);

    // Polls the management API's view of one queue until the condition holds on it.
    private static async Task<bool> WaitForQueueAsync(Uri amqp, string queue, Func<System.Text.Json.JsonElement, bool> holds, TimeSpan timeout)
    {
        using var http = ManagementClient();
        var vhost = Uri.EscapeDataString(amqp.AbsolutePath.TrimStart('/'));
        return await EventuallyAsync(async () =>
        {
            using var response = await http.GetAsync($"api/queues/{vhost}/{queue}");
            if (!response.IsSuccessStatusCode)
            {
                return false;
            }

            using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return holds(json.RootElement);
        }, timeout);
    }

    public static HttpClient ManagementClient()
    {
        var uri = RabbitMqManagement;
        var http = new HttpClient { BaseAddress = new Uri(uri.GetLeftPart(UriPartial.Authority) + "/") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(uri.UserInfo))));
        return http;
    }

    public static string NewTempDirectory(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"docpipe-{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Polls until <paramref name="condition"/> holds or the timeout passes.</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        using var poll = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
        do
        {
            try
            {
                if (await condition())
                {
                    return true;
                }
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or HttpRequestException or IOException)
            {
                // Not up yet (schema not migrated, process still starting): keep polling.
            }
        }
        while (DateTime.UtcNow < deadline && await poll.WaitForNextTickAsync());

        return await condition();
    }

    /// <summary>Runs a scalar query on a test database (NULL comes back as default).</summary>
    public static async Task<T?> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        var value = await cmd.ExecuteScalarAsync();
        return value is null or DBNull ? default : (T)value;
    }

    /// <summary>Runs a query on a test database and returns its first column as text, row by row.</summary>
    public static async Task<List<string>> ColumnAsync(string connectionString, string sql)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        var values = new List<string>();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }

    private static string Require(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } v
            ? v
            : throw new InvalidOperationException($"{name} is not set: run the tests with scripts/test.sh, which starts the real services on loopback.");
}
