using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PaliGemma2.DocPipeline.Inference.Serving;
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

    public static IHost Build(bool runPipeline, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var home = Environment.GetEnvironmentVariable("DOCPIPE_HOME") ?? DefaultHome;
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Pipeline:Transport"] = "InMemory",
            // Recovery (intake) and preparation only when this command processes documents; inference whenever a task is served.
            ["Roles"] = runPipeline ? "intake,prepare,infer" : "infer",
            ["Storage:Provider"] = "Sqlite",
            ["Storage:BlobRoot"] = Path.Combine(home, "blobs"),
            ["ConnectionStrings:Sqlite"] = $"Data Source={Path.Combine(home, "docpipe.db")}",
        });
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        builder.Configuration.AddEnvironmentVariables();
        // Log lines are warnings and errors (the CUDA fallback, a failed page): stderr, so stdout holds only results.
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
            .AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Error);
        builder.Services.AddDocPipeline(builder.Configuration, bus => bus.AddInferenceConsumers(builder.Configuration));
        builder.Services.AddInferenceServing(builder.Configuration);
        return builder.Build();
    }

    /// <summary>The demo checkpoint folder of the repository (<c>models/demo</c>), searched upwards from here.</summary>
    public static string? FindDemoRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "models", "demo");
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    public static string DescribeStore(IConfiguration configuration) =>
        string.Equals(configuration["Storage:Provider"], "Postgres", StringComparison.OrdinalIgnoreCase)
            ? "PostgreSQL (ConnectionStrings:Postgres)"
            : Path.GetFullPath(new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(configuration.GetConnectionString("Sqlite")).DataSource);
}
