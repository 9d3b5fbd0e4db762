using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PaliGemma2.DocPipeline.Pipeline.Hosting;

namespace PaliGemma2.DocPipeline.Cli.Commands;

/// <summary>
/// The CLI's host: embedded mode by default (in-memory bus, SQLite file and blob folder under
/// <c>.docpipe/</c>); environment variables (<c>Storage__Provider</c>, <c>ConnectionStrings__Postgres</c>, …)
/// point it at a distributed deployment's store instead.
/// </summary>
internal static class EmbeddedHost
{
    public const string DefaultHome = ".docpipe";

    public static IHost Build(bool runPipeline)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var home = Environment.GetEnvironmentVariable("DOCPIPE_HOME") ?? DefaultHome;
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Pipeline:Transport"] = "InMemory",
            ["Pipeline:RunPreparation"] = runPipeline ? "true" : "false",
            ["Pipeline:RunQueueIntake"] = "false",
            ["Storage:Provider"] = "Sqlite",
            ["Storage:BlobRoot"] = Path.Combine(home, "blobs"),
            ["ConnectionStrings:Sqlite"] = $"Data Source={Path.Combine(home, "docpipe.db")}",
        });
        builder.Configuration.AddEnvironmentVariables();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Error);
        builder.Services.AddDocPipeline(builder.Configuration);
        return builder.Build();
    }

    public static string DescribeStore(IConfiguration configuration) =>
        string.Equals(configuration["Storage:Provider"], "Postgres", StringComparison.OrdinalIgnoreCase)
            ? "PostgreSQL (ConnectionStrings:Postgres)"
            : Path.GetFullPath(new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(configuration.GetConnectionString("Sqlite")).DataSource);
}
